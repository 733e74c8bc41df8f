package dev.merit.bench.coordinator;

import dev.merit.cli.CommitProposal;
import dev.merit.codec.ValueCoding;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.remote.ProposalUpload;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteIdentity;
import dev.merit.remote.RemoteProposal;
import dev.merit.remote.RemoteVersion;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.RefUpdate;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.wire.Ed25519;
import io.grpc.StatusRuntimeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Many simulated contributors pushing signed sparse deltas for a fixed time to a real coordinator
 * in its own process, over loopback, through the client code {@code merit push} and
 * {@code merit daemon} use ({@link RemoteClient}, {@link CommitProposal}).
 *
 * <p>Each contributor has its own token, Ed25519 key and gRPC connection, and pushes one change
 * of {@code --density} of every tensor (a local commit on the newest version it has fetched, then
 * the proposal built from base and commit as {@code merit push} builds it) every
 * {@code --interval} seconds on average, uniformly jittered by +-50%, never two at once. The
 * contributors share one local store (a single follower watches the coordinator's versions and
 * fetches each new head into it) and run as virtual threads, so 200 of them cost a few carrier
 * threads, not 200. After {@code --seconds} no new push starts; the harness waits for pushes in
 * flight and for accepted proposals to merge ({@code --drain-seconds} at most), then stops the
 * coordinator and writes a Markdown and a JSON report and an SVG plot of its resident memory.
 */
@Command(name = "coordinator.LoadHarness", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Load harness: N contributors pushing to a coordinator process for a fixed time; reports outcomes,"
                + " push-to-merged latency, throughput and the coordinator's RSS over time.")
public final class LoadHarness implements Callable<Integer> {

    @Option(names = "--contributors", defaultValue = "200", description = "Simulated contributors (default ${DEFAULT-VALUE}).")
    int contributors;

    @Option(names = "--seconds", defaultValue = "60", description = "How long contributors start pushes (default ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--policy", defaultValue = "auto", description = "Coordinator merge policy: auto or batch (default ${DEFAULT-VALUE}).")
    String policy;

    @Option(names = "--model", defaultValue = "mlp",
            description = "mlp (784-512-128-10, 468,874 parameters) or a parameter count such as 250k or 2m (4 tensors of [n/4096, 1024]).")
    String model;

    @Option(names = "--density", defaultValue = "0.01", description = "Fraction of each tensor one push changes (default ${DEFAULT-VALUE}).")
    double density;

    @Option(names = "--interval", defaultValue = "5",
            description = "Mean seconds between one contributor's push starts, jittered +-50% (default ${DEFAULT-VALUE}).")
    double interval;

    @Option(names = "--batch-size", defaultValue = "32", description = "batch policy: merge every N (default ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--batch-seconds", defaultValue = "2", description = "batch policy: or after T seconds (default ${DEFAULT-VALUE}).")
    int batchSeconds;

    @Option(names = "--staleness-limit", defaultValue = "1000",
            description = "The coordinator's staleness limit in versions (default ${DEFAULT-VALUE}; see benchmarks/README.md).")
    long stalenessLimit;

    @Option(names = "--kafka", defaultValue = "embedded", description = "The coordinator's --kafka: embedded or none (default ${DEFAULT-VALUE}).")
    String kafka;

    @Option(names = "--coordinator-jvm", defaultValue = "",
            description = "JVM options of the coordinator process, space-separated (default: none, as the merit launcher).")
    String coordinatorJvm;

    @Option(names = "--drain-seconds", defaultValue = "60",
            description = "After the load, how long to wait for pushes in flight and merges (default ${DEFAULT-VALUE}).")
    int drainSeconds;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the pacing and the changes (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dir", defaultValue = "/tmp/merit-load", description = "Scratch directory, emptied first (default ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--out", defaultValue = "benchmarks/target/load",
            description = "Where the report goes: load-POLICY.md, .json, -rss.svg, -coordinator.log (default ${DEFAULT-VALUE}).")
    Path out;

    /** One push as the contributor saw it. */
    record Push(int contributor, double buildSeconds, long startNs, long answerNs, String outcome, String proposal,
                String detail, long staleness, long payloadBytes) {}

    private final Map<String, Long> mergedSeen = new ConcurrentHashMap<>();
    /** How many versions named each proposal as merged: more than one would be a double merge. */
    private final Map<String, Integer> mergedIn = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Push> pushes = new ConcurrentLinkedQueue<>();
    private final AtomicReference<ObjectId> newest = new AtomicReference<>();
    private final AtomicInteger versionsSeen = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final List<String> watchErrors = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile Thread fetcher;
    private volatile boolean stopping;

    public static void main(String[] args) {
        System.exit(new CommandLine(new LoadHarness()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        if (!policy.equals("auto") && !policy.equals("batch")) {
            throw new CommandLine.ParameterException(new CommandLine(this), "--policy: auto or batch, not '" + policy + "'");
        }
        List<TensorInfo> layout = layout(model);
        long params = layout.stream().mapToLong(TensorInfo::numel).sum();
        recreate(dir);
        Files.createDirectories(out);
        Path base = dir.resolve("base.safetensors");
        writeRandom(base, layout, seed);
        String loadBefore = Files.readString(Path.of("/proc/loadavg")).trim();

        List<String> serve = new ArrayList<>(List.of("--data", dir.resolve("coordinator").toString(), "--host", "127.0.0.1",
                "--port", Integer.toString(freePort()), "--http-port", "-1", "--kafka", kafka, "--policy", policy,
                "--staleness-limit", Long.toString(stalenessLimit)));
        if (policy.equals("batch")) {
            serve.addAll(List.of("--batch-size", Integer.toString(batchSize), "--batch-seconds", Integer.toString(batchSeconds)));
        }
        List<String> jvm = coordinatorJvm.isBlank() ? List.of() : List.of(coordinatorJvm.trim().split("\\s+"));
        Path logFile = out.resolve("load-" + policy + "-coordinator.log");
        System.out.printf("model %s: %d tensors, %,d parameters; %d contributors x %d s, one push per %.1f s each (+-50%%), policy %s%n",
                model, layout.size(), params, contributors, seconds, interval, policy);
        long tStart = System.nanoTime();
        try (CoordinatorChild coord = CoordinatorChild.start(jvm, serve, logFile);
             Repository local = Repository.init(dir.resolve("local"))) {
            System.out.printf("coordinator pid %d at %s, started in %.1f s (log: %s)%n", coord.pid(), coord.url(),
                    (System.nanoTime() - tStart) / 1e9, logFile);
            ObjectId v0;
            try (SafetensorsFile f = SafetensorsFile.open(base); RemoteClient admin = RemoteClient.connect(coord.url(), coord.adminToken())) {
                v0 = local.commit().setSource(f).setMessage("base").setAuthor("maintainer").call().id();
                admin.publish(local, "main", v0, ProgressListener.NONE);
            }
            newest.set(v0);
            List<Contributor> cs = enroll(coord);
            System.out.printf("%d contributors enrolled (token + registered Ed25519 key each)%n", cs.size());

            try (RemoteClient watcher = RemoteClient.connect(coord.url(), coord.adminToken());
                 AutoCloseable watch = watcher.watch("main", Duration.ofHours(1), this::onVersion,
                         e -> {
                             if (!stopping) {
                                 watchErrors.add(e.getMessage());
                             }
                         })) {
                fetcher = Thread.ofVirtual().name("fetcher").start(() -> follow(watcher, local));
                Thread.sleep(300); // the watch stream is open before the first push
                CpuMark cpu0 = CpuMark.now(coord);
                long zero = System.nanoTime();
                long end = zero + TimeUnit.SECONDS.toNanos(seconds);
                List<Thread> threads = new ArrayList<>();
                SplittableRandom pace = new SplittableRandom(seed);
                for (Contributor c : cs) {
                    SplittableRandom r = pace.split();
                    threads.add(Thread.ofVirtual().name("contributor-" + c.index).start(() -> pushLoop(c, local, layout, r, zero, end)));
                }
                progress(coord, zero, end);
                long drainUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(drainSeconds);
                for (Thread t : threads) {
                    t.join(Duration.ofNanos(Math.max(1, drainUntil - System.nanoTime())));
                }
                int stillPushing = (int) threads.stream().filter(Thread::isAlive).count();
                double loadEnd = (System.nanoTime() - zero) / 1e9;
                awaitMerges(drainUntil);
                double drained = (System.nanoTime() - zero) / 1e9;
                Map<String, String> lateStatus = settleUnseen(watcher);
                CpuMark cpu1 = CpuMark.now(coord);
                stopping = true;
                fetcher.interrupt();
                for (Contributor c : cs) {
                    c.client.close();
                }
                Thread.sleep(1500); // one more idle RSS sample
                List<CoordinatorChild.Sample> samples = coord.samples(zero);
                String heap = coord.heapAfterFullGc();
                Files.writeString(out.resolve("load-" + policy + "-heap.txt"), heap);
                int exit = coord.stop();
                String loadAfter = Files.readString(Path.of("/proc/loadavg")).trim();
                LoadReport report = new LoadReport(this, params, layout.size(), List.copyOf(pushes), Map.copyOf(mergedSeen), Map.copyOf(mergedIn), lateStatus,
                        samples, versionsSeen.get(), stillPushing, loadEnd, drained, cpu0, cpu1, exit, loadBefore, loadAfter,
                        List.copyOf(watchErrors), Instant.now(), heap);
                report.write(out, "load-" + policy);
                System.out.print(report.summary());
                return report.failedCount() == 0 && report.stranded() == 0 && report.unanswered() == 0 && report.mergedTwice() == 0 ? 0 : 1;
            }
        }
    }

    /** CPU seconds used so far by the coordinator and by this harness, at {@code nanos}. */
    record CpuMark(double coordinator, double harness, long nanos) {
        static CpuMark now(CoordinatorChild c) {
            CoordinatorChild.Sample s = c.sampleNow();
            double self = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                    ? os.getProcessCpuTime() / 1e9 : Double.NaN;
            return new CpuMark(s == null ? Double.NaN : s.cpuSeconds(), self, System.nanoTime());
        }
    }

    /** A simulated contributor: its name, token, key, connection and local branch. */
    private record Contributor(int index, String name, KeyPair key, RemoteClient client) {}

    private List<Contributor> enroll(CoordinatorChild coord) throws Exception {
        List<Contributor> cs = new ArrayList<>();
        try (RemoteClient admin = RemoteClient.connect(coord.url(), coord.adminToken())) {
            for (int i = 0; i < contributors; i++) {
                String name = "c" + i;
                String token = admin.createToken(name, RemoteIdentity.Role.CONTRIBUTOR);
                KeyPair key = Ed25519.generate();
                RemoteClient me = RemoteClient.connect(coord.url(), token);
                me.registerKey(key.getPublic().getEncoded());
                cs.add(new Contributor(i, name, key, me));
            }
        }
        return cs;
    }

    /** The watch stream: when each proposal was first seen merged, and a nudge to the fetcher. */
    private void onVersion(RemoteVersion v) {
        long now = System.nanoTime();
        versionsSeen.incrementAndGet();
        for (String p : v.proposals()) {
            mergedSeen.putIfAbsent(p, now);
            if (mergedIn.merge(p, 1, Integer::sum) > 1) {
                watchErrors.add("proposal " + p + " merged again, in version " + v.commit());
            }
        }
        Thread f = fetcher;
        if (f != null) {
            LockSupport.unpark(f);
        }
    }

    /**
     * Fetches the coordinator's newest head into the shared store when the watch says there is a
     * new one (at most every 200 ms), so contributors propose against a recent version as a
     * daemon does after {@code merit fetch}.
     */
    private void follow(RemoteClient c, Repository local) {
        while (!stopping) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1000));
            if (stopping) {
                return;
            }
            try {
                ObjectId have = newest.get();
                var rb = c.fetch(local, "main", List.of(have), ProgressListener.NONE);
                newest.set(rb.head());
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                if (!stopping) {
                    watchErrors.add("fetch: " + e.getMessage());
                }
            }
        }
    }

    private void pushLoop(Contributor c, Repository local, List<TensorInfo> layout, SplittableRandom r, long zero, long end) {
        String branch = "load-" + c.name;
        Optional<ObjectId> mine = Optional.empty();
        long next = zero + (long) (r.nextDouble() * interval * 1e9);
        while (true) {
            long wait = next - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            long planned = System.nanoTime();
            if (planned >= end) {
                return;
            }
            next = planned + (long) (interval * (0.5 + r.nextDouble()) * 1e9);
            inFlight.incrementAndGet();
            try {
                ObjectId on = newest.get();
                if (local.updateBranch(branch, mine, on, "load: on " + on.abbreviate(12)) == RefUpdate.LOCK_FAILURE) {
                    throw new IllegalStateException("branch " + branch + " moved under its only writer");
                }
                mine = Optional.of(on);
                ObjectId commit;
                try (SafetensorsFile b = local.openVersion(on); Arena arena = Arena.ofShared()) {
                    Map<String, SparseTensorDelta> changes = change(b, layout, r, arena);
                    commit = local.commit().setBranch(branch).setChanges(changes).setAuthor(c.name)
                            .setMessage("load push").call().id();
                }
                mine = Optional.of(commit);
                ProposalUpload u = CommitProposal.build(local, c.key.getPrivate(), on, commit, "main", c.name, 100,
                        "load push", ValueCoding.EXACT);
                long start = System.nanoTime();
                double build = (start - planned) / 1e9;
                try {
                    RemoteProposal p = c.client.push(u, ProgressListener.NONE).proposal();
                    long answer = System.nanoTime();
                    if (p.status() == RemoteProposal.Status.MERGED) {
                        mergedSeen.merge(p.id(), answer, Math::min);
                    }
                    String detail = p.status() == RemoteProposal.Status.REJECTED ? String.join("; ", p.reasons()) : "";
                    pushes.add(new Push(c.index, build, start, answer, p.status().name().toLowerCase(Locale.ROOT), p.id(), detail,
                            p.staleness(), u.payloadBytes()));
                } catch (RuntimeException e) {
                    pushes.add(new Push(c.index, build, start, System.nanoTime(), "failed", "", failure(e), -1, u.payloadBytes()));
                }
            } catch (RuntimeException e) {
                // The contributor's own side failed (local commit or proposal): a harness problem, reported as such.
                pushes.add(new Push(c.index, 0, System.nanoTime(), System.nanoTime(), "client-error", "", failure(e), -1, 0));
            } finally {
                inFlight.decrementAndGet();
            }
        }
    }

    /** The gRPC status code (or exception class) and message of a failed push. */
    static String failure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StatusRuntimeException s) {
                return s.getStatus().getCode() + ": " + e.getMessage();
            }
        }
        return e.getClass().getSimpleName() + ": " + e.getMessage();
    }

    /** A contributor's change: {@code density} of each tensor's entries (distinct, sorted), each moved by N(0, 1e-3). */
    private Map<String, SparseTensorDelta> change(SafetensorsFile base, List<TensorInfo> layout, SplittableRandom r, Arena arena) {
        Map<String, SparseTensorDelta> out = new HashMap<>();
        for (TensorInfo t : layout) {
            long n = t.numel();
            long k = Math.round(n * density);
            if (k == 0) {
                continue;
            }
            MemorySegment values = base.data(t.name());
            MemorySegment pos = arena.allocate(k * 8, 8);
            MemorySegment val = arena.allocate(k * 4, 8);
            double stride = (double) n / k;
            for (long i = 0; i < k; i++) {
                long lo = (long) (i * stride);
                long hi = Math.max(lo + 1, (long) ((i + 1) * stride));
                long at = lo + r.nextLong(hi - lo);
                pos.setAtIndex(SparseTensorDelta.POSITION, i, at);
                float v = values.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, at);
                val.setAtIndex(SparseTensorDelta.ADD_VALUE, i, v + (float) (1e-3 * r.nextGaussian()));
            }
            out.put(t.name(), new SparseTensorDelta(t, SparseTensorDelta.Semantics.SET, k, pos, val));
        }
        return out;
    }

    /** Prints a line every 5 s while the load runs. */
    private void progress(CoordinatorChild coord, long zero, long end) throws InterruptedException {
        while (System.nanoTime() < end) {
            Thread.sleep(Math.min(5000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
            Map<String, Integer> by = new HashMap<>();
            pushes.forEach(p -> by.merge(p.outcome(), 1, Integer::sum));
            CoordinatorChild.Sample s = coord.sampleNow();
            System.out.printf(Locale.ROOT, "t=%3.0f s  pushes answered %d %s, in flight %d, merged %d, versions %d, coordinator RSS %s MiB%n",
                    (System.nanoTime() - zero) / 1e9, pushes.size(), by, inFlight.get(), mergedSeen.size(), versionsSeen.get(),
                    s == null ? "?" : Long.toString(s.rssKb() / 1024));
        }
    }

    /** Waits until every accepted proposal has been seen merged, or the deadline. */
    private void awaitMerges(long until) throws InterruptedException {
        while (System.nanoTime() < until) {
            boolean all = pushes.stream().filter(p -> p.outcome().equals("accepted")).allMatch(p -> mergedSeen.containsKey(p.proposal()));
            if (all) {
                return;
            }
            Thread.sleep(100);
        }
    }

    /** The coordinator's own word on accepted proposals the watch never showed merged: their status now. */
    private Map<String, String> settleUnseen(RemoteClient c) {
        Map<String, String> out = new HashMap<>();
        for (Push p : pushes) {
            if (p.outcome().equals("accepted") && !mergedSeen.containsKey(p.proposal())) {
                try {
                    out.put(p.proposal(), c.proposal(p.proposal()).status().name().toLowerCase(Locale.ROOT));
                } catch (RuntimeException e) {
                    out.put(p.proposal(), "unknown (" + failure(e) + ")");
                }
            }
        }
        return out;
    }

    /** The model's tensors: the project's MLP or {@code N} parameters as 4 tensors of 1024 columns. */
    static List<TensorInfo> layout(String model) {
        if (model.equals("mlp")) {
            return List.of(TensorInfo.of("fc1.weight", DType.F32, 512, 784), TensorInfo.of("fc1.bias", DType.F32, 512),
                    TensorInfo.of("fc2.weight", DType.F32, 128, 512), TensorInfo.of("fc2.bias", DType.F32, 128),
                    TensorInfo.of("fc3.weight", DType.F32, 10, 128), TensorInfo.of("fc3.bias", DType.F32, 10));
        }
        String m = model.toLowerCase(Locale.ROOT);
        long mult = m.endsWith("k") ? 1_000 : m.endsWith("m") ? 1_000_000 : 1;
        long n;
        try {
            n = Long.parseLong(mult == 1 ? m : m.substring(0, m.length() - 1)) * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--model: mlp or a parameter count such as 250k or 2m, not '" + model + "'");
        }
        long rows = Math.max(1, n / 4 / 1024);
        List<TensorInfo> out = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            out.add(TensorInfo.of("layer" + i + ".weight", DType.F32, rows, 1024));
        }
        return out;
    }

    private static void writeRandom(Path file, List<TensorInfo> layout, long seed) {
        try (SafetensorsWriter w = SafetensorsWriter.create(file, layout, Map.of())) {
            SplittableRandom rnd = new SplittableRandom(seed);
            for (TensorInfo t : layout) {
                MemorySegment seg = w.segment(t.name());
                for (long j = 0; j < t.numel(); j++) {
                    seg.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j, (float) (0.02 * rnd.nextGaussian()));
                }
            }
            w.finish();
        }
    }

    private static void recreate(Path d) throws Exception {
        if (Files.exists(d)) {
            try (var s = Files.walk(d)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        Files.createDirectories(d);
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
