package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.events.KafkaAccess;
import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.delta.Sparsifier;
import dev.merit.delta.SparsifyResult;
import dev.merit.merge.MergeInput;
import dev.merit.merge.Merger;
import dev.merit.merge.SparseDeltaSource;
import dev.merit.merge.Strategy;
import dev.merit.remote.Models;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path on real components: a coordinator on Netty at 127.0.0.1, the embedded Kafka
 * broker, RocksDB stores in temp dirs and the merit CLI in-process. A maintainer publishes a
 * model; three contributors clone it, commit sparse fine-tunes with Fishers and push; the batch
 * policy merges them with the Fisher strategy; a fresh clone pulls exactly the model the test
 * computes on its own from the same files.
 */
class CoordinatorEndToEndTest {

    @TempDir
    Path dir;

    private static CliRunner.Result ok(CliRunner m, String... args) {
        CliRunner.Result r = m.run(args);
        assertEquals(0, r.exitCode(), () -> "merit " + String.join(" ", args) + "\n" + r);
        return r;
    }

    @Test
    void contributorsPushBatchMergesWithFisherAndAFreshClonePullsTheExpectedModel() throws Exception {
        Path base = TestModels.builder().seed(3).tensor("a", DType.F32, 200, 100).tensor("b", DType.BF16, 300)
                .tensor("ids", DType.I32, 16).write(dir.resolve("base.safetensors"));
        PolicyConfig policy = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withStrategy(Strategy.FISHER)
                .withBatch(3, Duration.ofMinutes(10));
        try (Coordinator coord = Coordinator.builder(dir.resolve("server")).listen("127.0.0.1", 0).policy(policy)
                .kafka("embedded").httpPort(0).start()) {
            String url = "merit://127.0.0.1:" + coord.port();
            String admin = coord.initialAdminToken().orElseThrow();

            // The maintainer publishes the base model.
            CliRunner maint = new CliRunner(Files.createDirectories(dir.resolve("maint")));
            ok(maint, "init", "--from", base.toString(), "-m", "base");
            ok(maint, "remote", "add", "origin", url, "--token", admin);
            assertTrue(ok(maint, "push", "origin", "main").out().startsWith("Published main"));
            ObjectId v0 = coord.versions().requireHead("main");

            String[] names = {"alice", "bob", "carol"};
            long[] examples = {100, 300, 50};
            List<Path> tuned = new ArrayList<>();
            List<Path> fishers = new ArrayList<>();
            for (int i = 0; i < names.length; i++) {
                String token = ok(maint, "token", "create", "--name", names[i], "--role", "contributor").out().trim();
                CliRunner c = new CliRunner(dir);
                ok(c, "clone", url, names[i], "--token", token);
                CliRunner in = new CliRunner(dir.resolve(names[i]));
                ok(in, "key", "register");
                Path t = Models.sparseTune(base, dir.resolve(names[i] + ".safetensors"), 0.02, 10 + i);
                Path f = Models.fisher(base, dir.resolve(names[i] + ".fisher.safetensors"), 20 + i);
                tuned.add(t);
                fishers.add(f);
                ok(in, "commit", t.toString(), "-m", "tune by " + names[i], "--fisher", f.toString());
                CliRunner.Result push = ok(in, "push", "--examples", Long.toString(examples[i]));
                assertTrue(push.out().contains(": accepted"), push.out());
            }

            // The third push completes the batch; the merge runs on the coordinator's merge thread.
            ObjectId head = awaitNewHead(coord, v0);
            Commit merged = coord.repository().readCommit(head);
            JsonNode prov = merged.provenance().path("merge");
            assertEquals("fisher", prov.path("strategy").asText());
            assertEquals(3, prov.path("proposals").size());
            assertEquals(Set.of("alice", "bob", "carol"), Set.of(prov.path("proposals").get(0).path("contributor").asText(),
                    prov.path("proposals").get(1).path("contributor").asText(), prov.path("proposals").get(2).path("contributor").asText()));
            assertEquals(v0, merged.parents().getFirst());

            // A fresh clone gets exactly the model computed here from the same files.
            ok(new CliRunner(dir), "clone", url, "fresh", "--token", admin);
            CliRunner fresh = new CliRunner(dir.resolve("fresh"));
            ok(fresh, "checkout", "HEAD", "-o", dir.resolve("pulled.safetensors").toString());
            // Weights are the example counts, but no contributor holds more than half a batch (the default
            // max_contributor_share): bob's 300 of 450 is capped to 150, the sum of the others.
            long[] weights = {100, 150, 50};
            assertEquals(150.0, prov.path("proposals").findValues("merge_weight").stream().mapToDouble(JsonNode::asDouble).max().orElseThrow());
            Path expected = expectedFisherMerge(base, tuned, fishers, weights, dir.resolve("expected.safetensors"));
            assertSameBytes(expected, dir.resolve("pulled.safetensors"));
            assertIsTheFisherMerge(base, tuned, fishers, weights, dir.resolve("pulled.safetensors"));

            // A contributor's pull replaces its pushed commit with the coordinator's version.
            CliRunner alice = new CliRunner(dir.resolve("alice"));
            assertTrue(ok(alice, "pull").out().contains("main is now origin/main at " + head.abbreviate(12)), "pull");
            try (Repository r = Repository.open(dir.resolve("alice"))) {
                assertEquals(head, r.resolve("main"));
            }
            // Commits since the pull that end where they started: push says so in the user's terms.
            ok(alice, "commit", tuned.get(1).toString(), "-m", "try bob's tune");
            ok(alice, "commit", dir.resolve("pulled.safetensors").toString(), "-m", "back to the merged model");
            CliRunner.Result nothing = ok(alice, "push");
            assertEquals("nothing to propose: main has no changes since origin/main (version 1)", nothing.out().trim());

            CliRunner.Result list = ok(maint, "proposals");
            assertEquals(3, list.out().split(": merged", -1).length - 1, list.out());

            // The version went out on Kafka too.
            assertTrue(versionEventSeen(coord.events().orElseThrow().kafkaAccess(), head), "merit.versions event");
            assertTrue(versionEventSeen(coord.events().orElseThrow().kafkaAccess(), v0), "the published version's event");

            // /metrics counts what the relay published: every record now in the topics.
            long inKafka = recordsInTopics(coord.events().orElseThrow().kafkaAccess());
            assertTrue(inKafka >= 5, "2 versions and 3 proposals, at least: " + inKafka);
            assertEquals(inKafka, awaitMetric(coord.httpPort().orElseThrow(), "merit_events_published_total", inKafka));
        }
    }

    private static ObjectId awaitNewHead(Coordinator coord, ObjectId old) throws InterruptedException {
        for (int i = 0; i < 300; i++) {
            Optional<ObjectId> h = coord.versions().head("main");
            if (h.isPresent() && !h.get().equals(old)) {
                return h.get();
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the batch was not merged");
    }

    /** The Fisher merge, computed with the merge engine from the contributors' own files. */
    private static Path expectedFisherMerge(Path base, List<Path> tuned, List<Path> fishers, long[] examples, Path out) {
        List<SafetensorsFile> open = new ArrayList<>();
        try (Arena arena = Arena.ofShared(); SafetensorsFile b = SafetensorsFile.open(base)) {
            List<MergeInput> inputs = new ArrayList<>();
            for (int i = 0; i < tuned.size(); i++) {
                SafetensorsFile t = SafetensorsFile.open(tuned.get(i));
                SafetensorsFile f = SafetensorsFile.open(fishers.get(i));
                open.add(t);
                open.add(f);
                inputs.add(MergeInput.sparse("c" + i, addDeltas(b, t, f, arena)).withWeight(examples[i]));
            }
            Merger.builder().base(b).inputs(inputs).strategy(Strategy.FISHER).build().mergeTo(out);
        } finally {
            open.forEach(SafetensorsFile::close);
        }
        return out;
    }

    private static SparseDeltaSource addDeltas(SafetensorsFile base, SafetensorsFile tuned, SafetensorsFile fisher, Arena arena) {
        SparsifyResult set = Sparsifier.allChanges().sparsify(base, tuned, arena);
        Map<String, SparseTensorDelta> deltas = new HashMap<>();
        Map<String, MemorySegment> fish = new HashMap<>();
        for (SparseTensorDelta d : set.deltas()) {
            if (d.count() == 0) {
                continue;
            }
            TensorInfo t = d.info();
            MemorySegment v = arena.allocate(d.count() * 4, 8);
            MemorySegment f = arena.allocate(d.count() * 4, 8);
            for (long i = 0; i < d.count(); i++) {
                long p = d.position(i);
                v.setAtIndex(SparseTensorDelta.ADD_VALUE, i,
                        (float) (t.dtype().getDouble(tuned.data(t.name()), p) - t.dtype().getDouble(base.data(t.name()), p)));
                f.setAtIndex(SparseTensorDelta.ADD_VALUE, i, (float) DType.F32.getDouble(fisher.data(t.name()), p));
            }
            deltas.put(t.name(), new SparseTensorDelta(t, SparseTensorDelta.Semantics.ADD, d.count(), d.positions(), v));
            fish.put(t.name(), f);
        }
        return new SparseDeltaSource() {
            @Override
            public Set<String> tensorNames() {
                return deltas.keySet();
            }

            @Override
            public Optional<SparseTensorDelta> delta(String tensor) {
                return Optional.ofNullable(deltas.get(tensor));
            }

            @Override
            public Optional<MemorySegment> fisher(String tensor) {
                return Optional.ofNullable(fish.get(tensor));
            }

            @Override
            public boolean hasFisher() {
                return true;
            }

            @Override
            public String describe() {
                return tuned.describe();
            }
        };
    }

    /**
     * Checks the pulled model against the Fisher-merge formula evaluated here entry by entry, in
     * double precision, without the merge engine: for each entry j, over the contributors i that
     * changed it, head_j = base_j + sum_i w_i F'_ij d_ij / sum_i w_i F'_ij, where w_i is the example
     * count (no proposal was stale), F' = max(F, 1e-6) and d = tuned - base.
     */
    private static void assertIsTheFisherMerge(Path base, List<Path> tuned, List<Path> fishers, long[] examples, Path pulled) {
        List<SafetensorsFile> open = new ArrayList<>();
        try (SafetensorsFile b = SafetensorsFile.open(base); SafetensorsFile got = SafetensorsFile.open(pulled)) {
            for (int i = 0; i < tuned.size(); i++) {
                open.add(SafetensorsFile.open(tuned.get(i)));
                open.add(SafetensorsFile.open(fishers.get(i)));
            }
            long checked = 0;
            for (TensorInfo t : b.tensors()) {
                DType dt = t.dtype();
                for (long j = 0; j < t.numel(); j++) {
                    double before = dt.getDouble(b.data(t.name()), j);
                    double num = 0;
                    double den = 0;
                    if (dt.isFloatingPoint()) {
                        for (int i = 0; i < tuned.size(); i++) {
                            double after = dt.getDouble(open.get(2 * i).data(t.name()), j);
                            if (after != before) {
                                double f = Math.max(DType.F32.getDouble(open.get(2 * i + 1).data(t.name()), j), 1e-6);
                                num += examples[i] * f * (after - before);
                                den += examples[i] * f;
                            }
                        }
                    }
                    double want = before + (den == 0 ? 0 : num / den);
                    double have = dt.getDouble(got.data(t.name()), j);
                    // float32 accumulation, then rounding to the tensor's dtype (one BF16 ulp is 2^-8 relative).
                    double tol = dt == DType.BF16 ? Math.abs(want) * 0x1p-8 + 1e-6 : dt == DType.F32 ? Math.abs(want) * 1e-6 + 1e-6 : 0;
                    assertEquals(want, have, tol, t.name() + "[" + j + "]");
                    checked++;
                }
            }
            assertTrue(checked > 20_000);
        } finally {
            open.forEach(SafetensorsFile::close);
        }
    }

    private static void assertSameBytes(Path expected, Path actual) {
        try (SafetensorsFile e = SafetensorsFile.open(expected); SafetensorsFile a = SafetensorsFile.open(actual)) {
            assertEquals(e.tensors(), a.tensors());
            for (TensorInfo t : e.tensors()) {
                assertArrayEquals(e.data(t.name()).toArray(ValueLayout.JAVA_BYTE), a.data(t.name()).toArray(ValueLayout.JAVA_BYTE),
                        "tensor " + t.name());
            }
        }
    }

    /** All records of the coordinator's topics, read until a second passes without a new one. */
    private static long recordsInTopics(KafkaAccess kafka) {
        Properties p = kafka.clientProperties();
        p.put("group.id", "e2e-count");
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        long n = 0;
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(Topics.VERSIONS, Topics.PROPOSALS));
            int quiet = 0;
            for (int i = 0; i < 60 && (n == 0 || quiet < 2); i++) {
                int got = c.poll(Duration.ofMillis(500)).count();
                n += got;
                quiet = got == 0 ? quiet + 1 : 0;
            }
        }
        return n;
    }

    /** The metric's value read over HTTP from /metrics, waiting up to 10 s for it to reach {@code expected}. */
    private static long awaitMetric(int httpPort, String name, long expected) throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        Pattern sample = Pattern.compile("(?m)^" + Pattern.quote(name) + " (\\S+)$");
        long value = -1;
        for (int i = 0; i < 100 && value != expected; i++) {
            String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + httpPort + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            Matcher m = sample.matcher(body);
            assertTrue(m.find(), name + " missing from /metrics:\n" + body);
            value = (long) Double.parseDouble(m.group(1));
            if (value != expected) {
                Thread.sleep(100);
            }
        }
        return value;
    }

    private static boolean versionEventSeen(KafkaAccess kafka, ObjectId commit) {
        Properties p = kafka.clientProperties();
        p.put("group.id", "e2e-test-" + commit.abbreviate(12));
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            c.subscribe(List.of(Topics.VERSIONS));
            for (int i = 0; i < 40; i++) {
                for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(500))) {
                    if (new String(r.value(), java.nio.charset.StandardCharsets.UTF_8).contains(commit.name())) {
                        return true;
                    }
                }
            }
        }
        return false;
    }
}
