package dev.merit.remote;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.coordinator.events.EventBus;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ProgressListener;
import dev.merit.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The review page's test bed: a coordinator with the manual policy (proposals wait for a
 * maintainer), the HTTP port, the embedded Kafka broker (the event stream), the maintainer
 * 'admin', the contributor 'alice' and the reader 'carol'; proposals are pushed over gRPC.
 */
final class ReviewFixture implements AutoCloseable {

    static final ObjectMapper JSON = new ObjectMapper();

    final CoordinatorFixture fx;
    final String base;
    final String reader;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private long seed = 100;

    ReviewFixture(Path dir) {
        this.fx = new CoordinatorFixture(dir, PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL), ValidationConfig.defaults(), null,
                b -> b.httpPort(0).kafka(EventBus.EMBEDDED));
        this.base = "http://127.0.0.1:" + fx.coord.httpPort().orElseThrow();
        try (RemoteClient c = fx.client(fx.admin)) {
            this.reader = c.createToken("carol", RemoteIdentity.Role.READER);
        }
    }

    /** Pushes alice's sparse fine-tune (a fresh seed each time) against the current head; returns the accepted proposal. */
    RemoteProposal push() {
        long s = seed++;
        return push(Models.sparseTune(headFile(), fx.dir.resolve("tune-" + s + ".safetensors"), 0.01, s));
    }

    /** The head of main as a file. */
    Path headFile() {
        Path f = fx.dir.resolve("head-" + fx.head().abbreviate(12) + ".safetensors");
        if (!java.nio.file.Files.exists(f)) {
            fx.coord.repository().checkout(fx.head(), f, ProgressListener.NONE);
        }
        return f;
    }

    /** Pushes {@code tuned} (a full model of the base's layout) as alice's proposal against the current head. */
    RemoteProposal push(Path tuned) {
        Path headFile = headFile();
        try (RemoteClient alice = fx.client(fx.alice)) {
            RemoteProposal p = alice.push(fx.proposal(headFile, tuned, fx.head()), ProgressListener.NONE).proposal();
            if (p.status() != RemoteProposal.Status.ACCEPTED) {
                throw new AssertionError("proposal was not accepted: " + p);
            }
            return p;
        }
    }

    /** head - (tuned - head): the opposite change of {@code tuned} (made from the head), at the same entries. */
    Path opposite(Path tuned, Path out) {
        try (SafetensorsFile b = SafetensorsFile.open(headFile()); SafetensorsFile t = SafetensorsFile.open(tuned);
             SafetensorsWriter w = SafetensorsWriter.create(out, b.tensors(), b.metadata())) {
            for (TensorInfo info : b.tensors()) {
                MemorySegment seg = w.segment(info.name());
                MemorySegment.copy(b.data(info.name()), 0, seg, 0, info.byteSize());
                if (info.dtype().isFloatingPoint()) {
                    for (long i = 0; i < info.numel(); i++) {
                        double x = info.dtype().getDouble(b.data(info.name()), i);
                        info.dtype().setDouble(seg, i, x - (info.dtype().getDouble(t.data(info.name()), i) - x));
                    }
                }
            }
            w.finish();
        }
        return out;
    }

    /**
     * Publishes a branch of {@code scores.length} commits (the base, then fine-tunes of it), each
     * with {@code evaluation.score} in its provenance, as an evaluator would record it; returns the tip.
     */
    dev.merit.store.ObjectId publishScored(String branch, double... scores) {
        try (dev.merit.store.Repository local = dev.merit.store.Repository.init(fx.dir.resolve("scored-" + branch))) {
            dev.merit.store.ObjectId tip = null;
            for (int i = 0; i < scores.length; i++) {
                Path model = i == 0 ? fx.base : Models.sparseTune(fx.base, fx.dir.resolve(branch + "-" + i + ".safetensors"), 0.01, 500 + i);
                var prov = JSON.createObjectNode();
                prov.putObject("evaluation").put("score", scores[i]).put("evaluator", "test");
                try (SafetensorsFile f = SafetensorsFile.open(model)) {
                    tip = local.commit().setSource(f).setMessage("scored " + i).setProvenance(prov).call().id();
                }
            }
            try (RemoteClient c = fx.client(fx.admin)) {
                c.publish(local, branch, tip, ProgressListener.NONE);
            }
            return tip;
        }
    }

    /** A request to the HTTP port with {@code token} as a bearer token (none if null). */
    HttpRequest.Builder request(String path, String token) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(30));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    HttpResponse<String> send(HttpRequest r) {
        try {
            return http.send(r, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    HttpResponse<String> get(String path, String token) {
        return send(request(path, token).GET().build());
    }

    HttpResponse<String> post(String path, String token, Object body) {
        try {
            return send(request(path, token).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body instanceof String s ? s : JSON.writeValueAsString(body))).build());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode json(HttpResponse<String> r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON (" + r.statusCode() + "): " + r.body(), e);
        }
    }

    HttpClient client() {
        return http;
    }

    static Map<String, Object> body(Object... kv) {
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    @Override
    public void close() {
        fx.close();
    }
}
