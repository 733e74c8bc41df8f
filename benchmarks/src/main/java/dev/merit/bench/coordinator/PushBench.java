package dev.merit.bench.coordinator;

import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.merge.Strategy;
import dev.merit.remote.ProposalBuilder;
import dev.merit.remote.ProposalUpload;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteIdentity;
import dev.merit.remote.RemoteProposal;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.wire.Ed25519;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

/**
 * Push-to-merged-commit latency and ingest throughput of a coordinator on loopback.
 *
 * <p>{@code PushBench [dir] [params=100000000] [density=0.005] [concurrency=1,8,32] [rounds=2]}:
 * writes a random F32 model of {@code params} parameters (10 tensors), publishes it to a
 * coordinator on 127.0.0.1 (batch policy, batch size = concurrency, 2 s delay, weighted average),
 * then for each concurrency C runs {@code rounds} rounds in which C contributors each push one
 * signed proposal changing {@code density} of the entries (exact float32 values, zstd), all at
 * once. Latency is from the start of a push to the moment the commit that merged it exists;
 * ingest throughput is payload bytes over the time from the first push's start to the last
 * push's answer (validation and storage included, merges not).
 */
public final class PushBench {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(arg(args, 0, "/tmp/merit-push-bench"));
        long params = Long.parseLong(arg(args, 1, "100000000"));
        double density = Double.parseDouble(arg(args, 2, "0.005"));
        int[] concurrency = Arrays.stream(arg(args, 3, "1,8,32").split(",")).mapToInt(Integer::parseInt).toArray();
        int rounds = Integer.parseInt(arg(args, 4, "2"));
        Files.createDirectories(dir);
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).filter(p -> !p.equals(dir)).forEach(p -> p.toFile().delete());
        }
        int tensors = 10;
        long rows = 1000;
        long cols = params / tensors / rows;
        List<TensorInfo> layout = IntStream.range(0, tensors).mapToObj(i -> TensorInfo.of("layer" + i + ".weight", DType.F32, rows, cols)).toList();
        Path base = dir.resolve("base.safetensors");
        long t0 = System.nanoTime();
        writeRandom(base, layout);
        System.out.printf("model: %d tensors, %,d parameters (%.0f MiB), written in %.1f s%n", tensors, tensors * rows * cols,
                tensors * rows * cols * 4 / 1048576.0, (System.nanoTime() - t0) / 1e9);

        for (int c : concurrency) {
            Path run = dir.resolve("c" + c);
            PolicyConfig policy = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withStrategy(Strategy.AVERAGE)
                    .withBatch(c, Duration.ofSeconds(2));
            try (Coordinator coord = Coordinator.builder(run.resolve("server")).listen("127.0.0.1", 0).policy(policy).start()) {
                String url = "merit://127.0.0.1:" + coord.port();
                String admin = coord.initialAdminToken().orElseThrow();
                long tp = System.nanoTime();
                try (Repository local = Repository.init(run.resolve("maint")); SafetensorsFile f = SafetensorsFile.open(base);
                     RemoteClient cl = RemoteClient.connect(url, admin)) {
                    ObjectId id = local.commit().setSource(f).setMessage("base").call().id();
                    cl.publish(local, "main", id, ProgressListener.NONE);
                }
                double publishS = (System.nanoTime() - tp) / 1e9;
                List<String> tokens = new ArrayList<>();
                List<KeyPair> keys = new ArrayList<>();
                try (RemoteClient cl = RemoteClient.connect(url, admin)) {
                    for (int i = 0; i < c; i++) {
                        tokens.add(cl.createToken("c" + i, RemoteIdentity.Role.CONTRIBUTOR));
                        KeyPair kp = Ed25519.generate();
                        keys.add(kp);
                        try (RemoteClient me = RemoteClient.connect(url, tokens.get(i))) {
                            me.registerKey(kp.getPublic().getEncoded());
                        }
                    }
                }
                Map<String, Long> mergedAt = new ConcurrentHashMap<>();
                coord.versions().addListener(v -> v.proposals().forEach(p -> mergedAt.put(p, System.nanoTime())));
                List<Double> latencies = new ArrayList<>();
                long payload = 0;
                double ingestSeconds = 0;
                for (int r = 0; r < rounds; r++) {
                    ObjectId head = coord.versions().requireHead("main");
                    List<ProposalUpload> uploads = new ArrayList<>();
                    for (int i = 0; i < c; i++) {
                        uploads.add(proposal(layout, density, 1000L * r + i, head, "c" + i, keys.get(i)));
                        payload += uploads.getLast().payloadBytes();
                    }
                    long start = System.nanoTime();
                    long[] began = new long[c];
                    String[] ids = new String[c];
                    try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
                        List<Future<?>> fs = new ArrayList<>();
                        for (int i = 0; i < c; i++) {
                            int k = i;
                            fs.add(ex.submit(() -> {
                                try (RemoteClient me = RemoteClient.connect(url, tokens.get(k))) {
                                    began[k] = System.nanoTime();
                                    var res = me.push(uploads.get(k), ProgressListener.NONE);
                                    if (res.proposal().status() == RemoteProposal.Status.REJECTED) {
                                        throw new IllegalStateException("rejected: " + res.proposal().reasons());
                                    }
                                    ids[k] = res.proposal().id();
                                }
                                return null;
                            }));
                        }
                        for (Future<?> f : fs) {
                            f.get();
                        }
                    }
                    ingestSeconds += (System.nanoTime() - start) / 1e9;
                    for (int i = 0; i < c; i++) {
                        Long at = null;
                        for (int w = 0; w < 1200 && (at = mergedAt.get(ids[i])) == null; w++) {
                            Thread.sleep(50);
                        }
                        if (at == null) {
                            throw new IllegalStateException("proposal " + ids[i] + " was not merged within 60 s");
                        }
                        latencies.add((at - began[i]) / 1e9);
                    }
                }
                latencies.sort(null);
                System.out.printf("C=%2d: publish %.1f s; %d proposals, %.2f MiB payload each; ingest %.1f MiB/s (%.1f proposals/s); "
                                + "push-to-merged latency p50 %.2f s, p99 %.2f s%n", c, publishS, latencies.size(),
                        payload / (double) latencies.size() / 1048576.0, payload / 1048576.0 / ingestSeconds,
                        latencies.size() / ingestSeconds, pct(latencies, 0.5), pct(latencies, 0.99));
            }
        }
    }

    private static double pct(List<Double> sorted, double p) {
        int i = (int) Math.ceil(p * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }

    private static ProposalUpload proposal(List<TensorInfo> layout, double density, long seed, ObjectId base, String who, KeyPair key) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<ProposalBuilder.Part> parts = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            for (TensorInfo t : layout) {
                long n = t.numel();
                long k = Math.round(n * density);
                MemorySegment pos = arena.allocate(k * 8, 8);
                MemorySegment val = arena.allocate(k * 4, 8);
                // k distinct sorted positions: one per stride-wide bucket, at a random offset in it.
                double stride = (double) n / k;
                for (long i = 0; i < k; i++) {
                    long lo = (long) (i * stride);
                    long hi = Math.max(lo + 1, (long) ((i + 1) * stride));
                    pos.setAtIndex(SparseTensorDelta.POSITION, i, lo + rnd.nextLong(hi - lo));
                    val.setAtIndex(SparseTensorDelta.ADD_VALUE, i, (float) (0.01 * rnd.nextGaussian()));
                }
                SparseTensorDelta d = new SparseTensorDelta(t, SparseTensorDelta.Semantics.ADD, k, pos, val);
                byte[] enc = DeltaCodec.encode(d, EncodeOptions.defaults(), arena).encoded().toArray(ValueLayout.JAVA_BYTE);
                parts.add(new ProposalBuilder.Part(t, enc, new byte[0], k));
            }
        }
        return ProposalBuilder.sign(parts, "main", base.name(), who, 0, "bench", key.getPrivate());
    }

    private static void writeRandom(Path out, List<TensorInfo> layout) {
        try (SafetensorsWriter w = SafetensorsWriter.create(out, layout, Map.of())) {
            IntStream.range(0, layout.size()).parallel().forEach(i -> {
                TensorInfo t = layout.get(i);
                MemorySegment seg = w.segment(t.name());
                SplittableRandom rnd = new SplittableRandom(i);
                for (long j = 0; j < t.numel(); j++) {
                    seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j, (float) (0.02 * rnd.nextGaussian()));
                }
            });
            w.finish();
        }
    }

    static String arg(String[] args, int i, String def) {
        return args.length > i ? args[i] : def;
    }
}
