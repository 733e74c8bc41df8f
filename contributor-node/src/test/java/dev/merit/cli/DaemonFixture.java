package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.merge.Strategy;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteIdentity;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A real coordinator on loopback (RocksDB in a temp dir, stoppable and restartable on the same
 * port), a maintainer who published a briefly trained small MLP, and contributors whose daemons
 * run as real {@code merit daemon} processes.
 */
final class DaemonFixture implements AutoCloseable {

    static final String MODEL = "mlp:784-16-10";

    final Path dir;
    final PolicyConfig policy;
    final QualityGate gate;
    Coordinator coord;
    int port;
    String url;
    String admin;
    final List<Daemon> daemons = new ArrayList<>();

    DaemonFixture(Path dir, MergePolicy policy, int batch, QualityGate gate) {
        this(dir, policy, batch, gate, "fisher");
    }

    DaemonFixture(Path dir, MergePolicy policy, int batch, QualityGate gate, String strategy) {
        this.dir = dir;
        this.policy = PolicyConfig.defaults().withPolicy(policy).withStrategy(Strategy.parse(strategy))
                .withBatch(batch, Duration.ofSeconds(300));
        this.gate = gate;
        startCoordinator(0);
        this.admin = coord.initialAdminToken().orElseThrow();
        Path m = dir.resolve("maintainer");
        cli(m, "init", "--model", MODEL, "--seed", "3");
        cli(m, "train", "--shard", "iid:20:0", "--mask", "none", "--density", "1", "--steps", "20", "--lr", "0.1", "-m", "base");
        cli(m, "remote", "add", "origin", url, "--token", admin);
        cli(m, "push", "origin", "main");
    }

    void startCoordinator(int at) {
        var b = Coordinator.builder(dir.resolve("server")).listen("127.0.0.1", at).policy(policy);
        if (gate != null) {
            b.qualityGate(gate);
        }
        coord = b.start();
        port = coord.port();
        url = "merit://127.0.0.1:" + port;
    }

    /** Stops the coordinator as a crash or maintenance would; clients see UNAVAILABLE. */
    void stopCoordinator() {
        coord.close();
        coord = null;
    }

    /** Starts it again on the same port and data directory (retrying while the port is still held). */
    void restartCoordinator() throws InterruptedException {
        for (int i = 0; ; i++) {
            try {
                startCoordinator(port);
                return;
            } catch (RuntimeException e) {
                if (i >= 50) {
                    throw e;
                }
                Thread.sleep(200);
            }
        }
    }

    /** A clone for a new contributor, with its signing key registered. */
    Path contributor(String name) {
        String token;
        try (RemoteClient c = RemoteClient.connect(url, admin)) {
            token = c.createToken(name, RemoteIdentity.Role.CONTRIBUTOR);
        }
        cli(dir, "clone", url, name, "--token", token);
        cli(dir.resolve(name), "key", "register");
        return dir.resolve(name);
    }

    static String cli(Path cwd, String... args) {
        StringWriter buf = new StringWriter();
        PrintWriter w = new PrintWriter(buf, true);
        int rc = Main.run(cwd, w, w, args);
        assertEquals(0, rc, "merit " + String.join(" ", args) + ":\n" + buf);
        return buf.toString();
    }

    /** A {@code merit daemon --json} process in {@code clone}, with small, fast training settings. */
    Daemon daemon(Path clone, String... extra) throws IOException {
        return daemon(clone, 10, extra);
    }

    Daemon daemon(Path clone, int steps, String... extra) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-Dai.djl.pytorch.num_threads=1",
                "-Dai.djl.pytorch.num_interop_threads=1", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "daemon", "--json", "--steps", Integer.toString(steps), "--batch", "32", "--lr", "0.1", "--density", "0.01",
                "--fisher-samples", "16", "--val-examples", "200", "--max-backoff", "1"));
        cmd.addAll(List.of(extra));
        Process p = new ProcessBuilder(cmd).directory(clone.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(clone.resolve("daemon.err").toFile())).start();
        Daemon d = new Daemon(p, clone);
        daemons.add(d);
        return d;
    }

    /** The same daemon started through the packaged {@code ./merit} launcher, as a user starts it (after package: ITs). */
    Daemon launched(Path clone, int steps, String... extra) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(MeritLauncherIT.repoRoot().resolve("merit").toString(),
                "daemon", "--json", "--steps", Integer.toString(steps), "--batch", "32", "--lr", "0.1", "--density", "0.01",
                "--fisher-samples", "16", "--val-examples", "200", "--max-backoff", "1"));
        cmd.addAll(List.of(extra));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(clone.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(clone.resolve("daemon.err").toFile()));
        pb.environment().put("MERIT_JAVA_OPTS", "-Xmx512m");
        Daemon d = new Daemon(pb.start(), clone);
        daemons.add(d);
        return d;
    }

    /** A daemon process and the JSON events it printed. */
    static final class Daemon {
        final Process process;
        final Path clone;
        final List<JsonNode> events = new CopyOnWriteArrayList<>();
        private static final ObjectMapper JSON = new ObjectMapper();
        private final Thread reader;

        Daemon(Process process, Path clone) {
            this.process = process;
            this.clone = clone;
            this.reader = Thread.ofPlatform().daemon().start(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        if (l.startsWith("{")) {
                            events.add(JSON.readTree(l));
                        }
                    }
                } catch (IOException ignored) {
                    // the process ended
                }
            });
        }

        List<JsonNode> events(String event) {
            return events.stream().filter(e -> e.path("event").asText().equals(event)).toList();
        }

        /** Waits until {@code n} events of this kind were printed. */
        void await(String event, int n, Duration timeout) throws InterruptedException {
            awaitThat(event + " x" + n, () -> events(event).size() >= n, timeout);
        }

        void awaitThat(String what, java.util.function.BooleanSupplier cond, Duration timeout) throws InterruptedException {
            long until = System.nanoTime() + timeout.toNanos();
            while (!cond.getAsBoolean()) {
                if (System.nanoTime() > until) {
                    throw new AssertionError("daemon in " + clone + ": no " + what + " within " + timeout + "; events " + events
                            + "; stderr: " + stderr());
                }
                if (!process.isAlive() && !cond.getAsBoolean()) {
                    reader.join(10_000); // everything the process printed has been read
                    if (!cond.getAsBoolean()) {
                        throw new AssertionError("daemon in " + clone + " exited " + process.exitValue() + " before " + what
                                + "; events " + events + "; stderr: " + stderr());
                    }
                }
                Thread.sleep(100);
            }
        }

        int exit(Duration timeout) throws InterruptedException {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("daemon in " + clone + " still running; events " + events + "; stderr: " + stderr());
            }
            reader.join(10_000);
            return process.exitValue();
        }

        String stderr() {
            try {
                Path f = clone.resolve("daemon.err");
                return Files.exists(f) ? Files.readString(f) : "";
            } catch (IOException e) {
                return e.toString();
            }
        }

        long count(Predicate<JsonNode> p) {
            return events.stream().filter(p).count();
        }
    }

    @Override
    public void close() {
        for (Daemon d : daemons) {
            d.process.destroyForcibly();
            try {
                d.process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (coord != null) {
            coord.close();
        }
    }
}
