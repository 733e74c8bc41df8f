package dev.merit.coordinator.harden;

import dev.merit.coordinator.events.KafkaAccess;
import dev.merit.coordinator.events.ProposalEvent;
import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.events.VersionEvent;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.GetUploadRequest;
import dev.merit.proto.v1.GetUploadResponse;
import dev.merit.proto.v1.ListProposalsRequest;
import dev.merit.proto.v1.ListProposalsResponse;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalServiceGrpc;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.PushRequest;
import dev.merit.proto.v1.PushResponse;
import dev.merit.proto.v1.RegisterKeyRequest;
import dev.merit.proto.v1.Role;
import dev.merit.safetensors.Safetensors;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorSource;
import dev.merit.testing.TestModels;
import dev.merit.wire.Ed25519;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Kills a coordinator with SIGKILL at random moments while contributors push, restarts it on the
 * same data, and checks what every acknowledged push was promised. The coordinator runs as its
 * own process ({@code CoordinatorMain serve}, auto policy, embedded Kafka); contributors push
 * signed proposals over loopback gRPC, in pieces with pauses so kills land inside uploads and
 * merges (each kill comes a random 0.2-3 s after the restarted coordinator answered its first push),
 * and after a failure resume their upload (GetUpload) or push the same change again.
 *
 * <p>After the last restart: every proposal a client was told was accepted or merged is merged
 * (auto owes each one its merge), none is stranded as accepted, none is in two versions, each
 * event is in Kafka exactly once (one "accepted" and one "merged" per proposal, one event per
 * version), and the store passes fsck.
 */
final class CrashHarness {

    record Config(int kills, int contributors, long seed, Duration minUp, Duration maxUp) {}

    /** What a run did and found; {@link #problems} empty means every check held. */
    record Figures(int kills, int killsDuringPushes, int pushesAnswered, int acknowledged, int merged, int retries,
                   int resumedUploads, int repeatAnswers, int rejected, int proposalEvents, int versionEvents,
                   Duration took, List<String> problems) {
        String table() {
            return String.format("kills %d (%d with pushes in flight), pushes answered %d, acknowledged %d, merged %d, "
                            + "retries after a kill %d, resumed uploads %d, pushes answered after a retry %d, rejected %d, "
                            + "proposal events %d, version events %d, %.1f s; problems: %s",
                    kills, killsDuringPushes, pushesAnswered, acknowledged, merged, retries, resumedUploads, repeatAnswers,
                    rejected, proposalEvents, versionEvents, took.toMillis() / 1000.0, problems.isEmpty() ? "none" : problems);
        }
    }

    private final Path dir;
    private final Path data;
    private final Config config;
    private final int port;
    private final PrintWriter log;
    private Process process;
    private String adminToken;
    private String bootstrap;
    private ManagedChannel channel;

    private final Map<String, Proposal> acknowledged = new ConcurrentHashMap<>();
    private final AtomicInteger answered = new AtomicInteger();
    private final AtomicInteger retries = new AtomicInteger();
    private final AtomicInteger resumed = new AtomicInteger();
    private final AtomicInteger repeats = new AtomicInteger();
    private final AtomicInteger rejected = new AtomicInteger();
    private final AtomicInteger inFlight = new AtomicInteger();
    private final List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());

    CrashHarness(Path dir, Config config) throws IOException {
        this.dir = dir;
        this.data = dir.resolve("coord").toAbsolutePath();
        this.config = config;
        try (ServerSocket s = new ServerSocket(0)) {
            this.port = s.getLocalPort();
        }
        // The log outlives the temporary data: target/crash-harness.log when run from the module.
        Path logFile = Files.isDirectory(Path.of("target")) ? Path.of("target", "crash-harness.log") : dir.resolve("coordinator.log");
        this.log = new PrintWriter(Files.newBufferedWriter(logFile), true);
    }

    Figures run() throws Exception {
        long t0 = System.nanoTime();
        Random random = new Random(config.seed());
        int killsInFlight = 0;
        try {
            start();
            channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
            ObjectId v0 = publishBase();
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> pushers = new ArrayList<>();
            for (int i = 0; i < config.contributors(); i++) {
                String name = "c" + i;
                String token = LoopbackCoordinator.with(AdminServiceGrpc.newBlockingStub(channel), adminToken)
                        .createToken(CreateTokenRequest.newBuilder().setName(name).setRole(Role.CONTRIBUTOR).build()).getToken();
                KeyPair key = Ed25519.generate();
                LoopbackCoordinator.with(AdminServiceGrpc.newBlockingStub(channel), token)
                        .registerKey(RegisterKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(key.getPublic().getEncoded())).build());
                long seed = random.nextLong();
                pushers.add(Thread.ofPlatform().name("pusher-" + name).start(() -> pushLoop(name, token, key, v0, new Random(seed), stop)));
            }
            for (int k = 0; k < config.kills(); k++) {
                // A cold coordinator on a loaded machine may take seconds for its first answer: wait
                // (bounded) until it has answered a push since this start, so every kill interrupts work.
                int before = answered.get();
                long warm = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (answered.get() == before && System.nanoTime() < warm) {
                    Thread.sleep(20);
                }
                long up = config.minUp().toMillis() + (long) (random.nextDouble() * (config.maxUp().toMillis() - config.minUp().toMillis()));
                Thread.sleep(up);
                if (inFlight.get() > 0) {
                    killsInFlight++;
                }
                log.println("=== kill -9 #" + (k + 1) + " (" + inFlight.get() + " pushes in flight, " + answered.get() + " answered so far)");
                process.destroyForcibly(); // SIGKILL: no shutdown hook, no flush
                process.waitFor();
                log.println("=== killed at " + Instant.now());
                start();
            }
            Thread.sleep(config.minUp().toMillis());
            stop.set(true);
            for (Thread t : pushers) {
                t.join(TimeUnit.MINUTES.toMillis(3));
                if (t.isAlive()) {
                    problems.add(t.getName() + " did not finish");
                }
            }
            return check(killsInFlight, t0);
        } finally {
            if (channel != null) {
                channel.shutdownNow();
            }
            if (process != null && process.isAlive()) {
                process.destroyForcibly().waitFor();
            }
            log.close();
        }
    }

    private void start() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                "dev.merit.coordinator.cli.CoordinatorMain", "serve", "--data", data.toString(), "--port", Integer.toString(port),
                "--http-port", "-1", "--kafka", "embedded", "--policy", "auto", "--staleness-limit", "1000000",
                "--pushes-per-minute", "100000").redirectErrorStream(true);
        process = pb.start();
        CountDownLatch ready = new CountDownLatch(1);
        Process p = process;
        Thread.ofPlatform().daemon().name("coordinator-output").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    log.println(line);
                    if (line.startsWith("Admin token (shown once): ")) {
                        adminToken = line.substring("Admin token (shown once): ".length()).trim();
                    } else if (line.startsWith("Kafka at ")) {
                        bootstrap = line.substring("Kafka at ".length()).trim();
                    } else if (line.startsWith("Merit coordinator on ")) {
                        log.println("=== ready at " + Instant.now());
                        ready.countDown();
                    }
                }
            } catch (IOException e) {
                // the process died: its output ends
            }
        });
        if (!ready.await(3, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the coordinator did not start within 3 minutes; see the harness log");
        }
    }

    private ObjectId publishBase() throws Exception {
        Path model = TestModels.builder().seed(5).tensor("w", DType.F32, 64, 32).tensor("b", DType.F32, 32).write(dir.resolve("m.safetensors"));
        try (Repository local = Repository.init(dir.resolve("local")); TensorSource src = Safetensors.open(model)) {
            ObjectId v0 = local.commit().setSource(src).setMessage("base").call().id();
            LoopbackCoordinator.publish(channel, adminToken, local, v0);
            return v0;
        }
    }

    /** Pushes new changes until told to stop; a push interrupted by a kill is resumed or repeated until it is answered. */
    private void pushLoop(String name, String token, KeyPair key, ObjectId v0, Random random, AtomicBoolean stop) {
        for (int n = 0; !stop.get(); n++) {
            int count = 20 + random.nextInt(400);
            TreeSet<Long> set = new TreeSet<>();
            while (set.size() < count) {
                set.add((long) random.nextInt(64 * 32));
            }
            long[] positions = set.stream().mapToLong(Long::longValue).toArray();
            float[] values = new float[count];
            for (int i = 0; i < count; i++) {
                values[i] = (random.nextFloat() - 0.5f) * 0.01f;
            }
            LoopbackCoordinator.Signed s = LoopbackCoordinator.sign(key, name, v0, positions, values, name + " change " + n);
            Proposal p = pushUntilAnswered(token, s, random);
            if (p == null) {
                return; // the run ended while the coordinator was away
            }
            answered.incrementAndGet();
            switch (p.getStatus()) {
                case ACCEPTED, MERGED -> {
                    if (acknowledged.putIfAbsent(p.getId(), p) != null) {
                        problems.add(name + ": proposal " + p.getId() + " acknowledged for two different pushes");
                    }
                }
                default -> {
                    rejected.incrementAndGet();
                    problems.add(name + ": push " + n + " rejected: " + p.getReasonsList());
                }
            }
        }
    }

    private Proposal pushUntilAnswered(String token, LoopbackCoordinator.Signed s, Random random) {
        boolean failedBefore = false;
        long giveUp = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (System.nanoTime() < giveUp) {
            inFlight.incrementAndGet();
            try {
                long offset = 0;
                if (failedBefore) {
                    GetUploadResponse u = LoopbackCoordinator.with(ProposalServiceGrpc.newBlockingStub(channel), token)
                            .getUpload(GetUploadRequest.newBuilder().setUploadId(s.spec().uploadId()).build());
                    offset = u.getExists() ? u.getOffset() : 0;
                    if (offset > 0) {
                        resumed.incrementAndGet();
                    }
                }
                Proposal p = push(token, s, (int) offset, random);
                if (failedBefore) {
                    repeats.incrementAndGet();
                }
                return p;
            } catch (Exception e) {
                failedBefore = true;
                if (retries.incrementAndGet() % 50 == 1) {
                    log.println("retry " + retries.get() + ": " + e);
                }
                // The channel backs off exponentially after failed connects; the coordinator may be back already.
                channel.resetConnectBackoff();
                try {
                    Thread.sleep(200);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return null;
                }
            } finally {
                inFlight.decrementAndGet();
            }
        }
        problems.add("a push found no coordinator for 5 minutes");
        return null;
    }

    /** Streams the payload from {@code offset} in four pieces with short pauses, so kills land inside uploads. */
    private Proposal push(String token, LoopbackCoordinator.Signed s, int offset, Random random) throws Exception {
        CompletableFuture<PushResponse> done = new CompletableFuture<>();
        StreamObserver<PushRequest> in = LoopbackCoordinator.with(ProposalServiceGrpc.newStub(channel), token)
                .push(LoopbackCoordinator.observer(done));
        in.onNext(s.header(offset));
        byte[] b = s.payload();
        int piece = Math.max(1, (b.length - offset + 3) / 4);
        for (int at = offset; at < b.length && !done.isDone(); at += piece) {
            in.onNext(PushRequest.newBuilder().setData(ByteString.copyFrom(b, at, Math.min(piece, b.length - at))).build());
            Thread.sleep(random.nextInt(15));
        }
        in.onCompleted();
        return done.get(60, TimeUnit.SECONDS).getProposal();
    }

    /** Whether every acknowledged proposal has its merged proposal event and is in some version event. */
    private boolean announcedAll(List<org.apache.kafka.clients.consumer.ConsumerRecord<String, byte[]>> versions,
                                 List<org.apache.kafka.clients.consumer.ConsumerRecord<String, byte[]>> proposals) {
        java.util.Set<String> inVersions = new java.util.HashSet<>();
        versions.forEach(r -> inVersions.addAll(VersionEvent.parse(r.value()).proposals()));
        java.util.Set<String> merged = new java.util.HashSet<>();
        for (var r : proposals) {
            ProposalEvent e = ProposalEvent.parse(r.value());
            if (e.status() == ProposalEvent.Status.MERGED) {
                merged.add(e.proposalId());
            }
        }
        return inVersions.containsAll(acknowledged.keySet()) && merged.containsAll(acknowledged.keySet());
    }

    private Figures check(int killsInFlight, long t0) throws Exception {
        // A fresh channel (the old one may be backing off after the last kill) that waits for the server.
        channel.shutdownNow();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        var admin = LoopbackCoordinator.with(ProposalServiceGrpc.newBlockingStub(channel), adminToken).withWaitForReady();
        // Auto owes every accepted proposal its merge: wait (bounded) until none waits.
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        List<String> waiting = List.of();
        do {
            List<String> w = new ArrayList<>();
            String token = "";
            do {
                ListProposalsResponse r = admin.listProposals(ListProposalsRequest.newBuilder()
                        .setStatus(ProposalStatus.ACCEPTED).setLimit(500).setPageToken(token).build());
                r.getProposalsList().forEach(p -> w.add(p.getId()));
                token = r.getNextPageToken();
            } while (!token.isEmpty());
            waiting = w;
            if (!waiting.isEmpty()) {
                Thread.sleep(200);
            }
        } while (!waiting.isEmpty() && System.nanoTime() < deadline);
        if (!waiting.isEmpty()) {
            problems.add("stranded as accepted: " + waiting);
        }
        int merged = 0;
        for (String id : acknowledged.keySet()) {
            Proposal p = admin.getProposal(GetProposalRequest.newBuilder().setId(id).build());
            if (p.getStatus() == ProposalStatus.MERGED) {
                merged++;
            } else {
                problems.add("acknowledged " + id + " is " + p.getStatus());
            }
        }

        // Kafka: each event exactly once.
        // The outbox relay publishes after the merge commit, so the last events may still be on their
        // way (a loaded machine delays the relay): read again, bounded, until every merged proposal is there.
        KafkaAccess kafka = KafkaAccess.withConfigFile(bootstrap, data.resolve("kafka").resolve("client.properties"));
        var versions = MergedEventTest.readAll(kafka, Topics.VERSIONS);
        var proposals = MergedEventTest.readAll(kafka, Topics.PROPOSALS);
        long relayDeadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        while (!announcedAll(versions, proposals) && System.nanoTime() < relayDeadline) {
            Thread.sleep(500);
            versions = MergedEventTest.readAll(kafka, Topics.VERSIONS);
            proposals = MergedEventTest.readAll(kafka, Topics.PROPOSALS);
        }
        Map<String, Integer> inVersions = new HashMap<>();
        Map<String, Integer> commits = new HashMap<>();
        for (var r : versions) {
            VersionEvent v = VersionEvent.parse(r.value());
            commits.merge(v.commit(), 1, Integer::sum);
            v.proposals().forEach(id -> inVersions.merge(id, 1, Integer::sum));
        }
        commits.forEach((c, n) -> {
            if (n > 1) {
                problems.add("version " + c + " announced " + n + " times");
            }
        });
        inVersions.forEach((id, n) -> {
            if (n > 1) {
                problems.add(id + " merged into " + n + " versions");
            }
        });
        Map<String, List<ProposalEvent.Status>> byProposal = new HashMap<>();
        for (var r : proposals) {
            ProposalEvent e = ProposalEvent.parse(r.value());
            byProposal.computeIfAbsent(e.proposalId(), x -> new ArrayList<>()).add(e.status());
        }
        for (String id : acknowledged.keySet()) {
            List<ProposalEvent.Status> got = byProposal.getOrDefault(id, List.of());
            if (!got.equals(List.of(ProposalEvent.Status.ACCEPTED, ProposalEvent.Status.MERGED))) {
                problems.add("events of " + id + ": " + got);
            }
            if (inVersions.getOrDefault(id, 0) != 1) {
                problems.add(id + " is in " + inVersions.getOrDefault(id, 0) + " version events");
            }
        }
        byProposal.forEach((id, got) -> {
            if (got.size() != new java.util.HashSet<>(got).size()) {
                problems.add("duplicate events of " + id + ": " + got);
            }
        });

        // Stop cleanly, then fsck the store with the coordinator gone.
        channel.shutdownNow();
        process.destroy();
        process.waitFor(2, TimeUnit.MINUTES);
        try (Repository repo = Repository.open(data)) {
            List<String> fsck = repo.fsck(ProgressListener.NONE).problems();
            if (!fsck.isEmpty()) {
                problems.add("fsck: " + fsck);
            }
        }
        return new Figures(config.kills(), killsInFlight, answered.get(), acknowledged.size(), merged, retries.get(), resumed.get(),
                repeats.get(), rejected.get(), proposals.size(), versions.size(), Duration.ofNanos(System.nanoTime() - t0),
                List.copyOf(problems));
    }
}
