package dev.merit.cli;

import dev.merit.error.MeritException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code merit serve} as a child process. The coordinator runs from its own classpath (Kafka
 * broker, Scala, Netty server), which the contributor's program does not carry, so commands that
 * need one (the demo, {@code merit serve} started without the launcher) start it through the
 * {@code merit} launcher, which picks the coordinator's program for {@code serve}.
 */
public final class CoordinatorProcess implements AutoCloseable {

    private static final Pattern LISTENING = Pattern.compile("^Merit coordinator on (\\S+):(\\d+) ");
    private static final Pattern HTTP = Pattern.compile("^Review page on http://(\\S+):(\\d+)/");
    private static final Pattern KAFKA = Pattern.compile("^Kafka at (\\S+)");
    private static final Pattern TOKEN = Pattern.compile("^Admin token \\(shown once\\): (\\S+)");

    private final Process process;
    private final String url;
    private final String adminToken;
    private final Optional<Integer> httpPort;
    private final Optional<String> kafka;

    private CoordinatorProcess(Process process, String url, String adminToken, Optional<Integer> httpPort, Optional<String> kafka) {
        this.process = process;
        this.url = url;
        this.adminToken = adminToken;
        this.httpPort = httpPort;
        this.kafka = kafka;
    }

    /** The launcher next to the packaged CLI: {@code <root>/merit}, found from where this class was loaded. */
    static Path launcher() {
        try {
            Path at = Path.of(CoordinatorProcess.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            for (Path p = at; p != null; p = p.getParent()) {
                if (Files.isRegularFile(p.resolve("merit")) && Files.isRegularFile(p.resolve("mvnw"))) {
                    return p.resolve("merit");
                }
            }
            throw new MeritException("merit serve runs from the coordinator's program, started by the ./merit launcher,"
                    + " and none was found above " + at);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Runs {@code merit serve ARGS} in {@code dir} with this process's input and output, and returns its exit code. */
    static int runInForeground(Path dir, List<String> args) throws InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(launcher().toString(), "serve"));
        cmd.addAll(args);
        try {
            return new ProcessBuilder(cmd).directory(dir.toFile()).inheritIO().start().waitFor();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", cmd), e);
        }
    }

    /**
     * Starts a new coordinator on a free port with a fresh data directory and waits until it
     * listens and has printed its admin token; the coordinator's lines are copied to {@code log}.
     */
    public static CoordinatorProcess start(Path dir, PrintWriter log, String... serveArgs) throws InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(launcher().toString(), "serve", "--port", "0"));
        cmd.addAll(List.of(serveArgs));
        Process p;
        try {
            p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", cmd), e);
        }
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    lines.add(l);
                }
            } catch (IOException ignored) {
                // the process ended; its exit is reported below
            }
        });
        String url = null;
        Optional<Integer> http = Optional.empty();
        Optional<String> kafka = Optional.empty();
        // The first start may build the coordinator (about a minute); the broker adds a few seconds.
        long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        try {
            while (System.nanoTime() < until) {
                String l = lines.poll(200, TimeUnit.MILLISECONDS);
                if (l == null) {
                    if (!p.isAlive() && lines.isEmpty()) {
                        reader.join(1000);
                        if (lines.isEmpty()) {
                            throw new MeritException("merit serve exited with code " + p.exitValue() + " before it was ready");
                        }
                    }
                    continue;
                }
                log.println("  [coordinator] " + l);
                log.flush();
                Matcher m;
                if ((m = LISTENING.matcher(l)).find()) {
                    url = "merit://" + m.group(1) + ":" + m.group(2);
                } else if ((m = HTTP.matcher(l)).find()) {
                    http = Optional.of(Integer.parseInt(m.group(2)));
                } else if ((m = KAFKA.matcher(l)).find()) {
                    kafka = Optional.of(m.group(1));
                } else if ((m = TOKEN.matcher(l)).find() && url != null) {
                    return new CoordinatorProcess(p, url, m.group(1), http, kafka);
                }
            }
            throw new MeritException("merit serve did not report an address and admin token within 5 minutes");
        } catch (RuntimeException | InterruptedException e) {
            stop(p);
            throw e;
        }
    }

    public String url() {
        return url;
    }

    public String adminToken() {
        return adminToken;
    }

    Optional<Integer> httpPort() {
        return httpPort;
    }

    Optional<String> kafka() {
        return kafka;
    }

    long pid() {
        return process.pid();
    }

    /** Stops the coordinator as Ctrl-C would (it finishes merges and closes its store), forcibly after a minute. */
    @Override
    public void close() {
        stop(process);
    }

    private static void stop(Process p) {
        p.destroy();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
