package dev.merit.bench.coordinator;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A coordinator ({@code CoordinatorMain serve}, what {@code merit serve} runs) in its own JVM on
 * this harness's class path, with its resident memory, threads, descriptors and CPU time sampled
 * from {@code /proc/<pid>} once a second.
 */
final class CoordinatorChild implements AutoCloseable {

    /** One reading of {@code /proc/<pid>}: when (seconds from a chosen zero), VmRSS and its anonymous and file-backed parts in KiB, threads, open descriptors, CPU seconds. */
    record Sample(double t, long rssKb, long anonKb, long fileKb, int threads, int fds, double cpuSeconds) {
        Sample from(long zeroNanos, long nanosAtZeroT) {
            return new Sample(t + (nanosAtZeroT - zeroNanos) / 1e9, rssKb, anonKb, fileKb, threads, fds, cpuSeconds);
        }
    }

    private final Process process;
    private final String url;
    private final String adminToken;
    private final List<Sample> samples = new CopyOnWriteArrayList<>();
    private final Thread sampler;
    /** Samples' times count from here. */
    private final long started = System.nanoTime();

    private CoordinatorChild(Process process, String url, String adminToken) {
        this.process = process;
        this.url = url;
        this.adminToken = adminToken;
        this.sampler = Thread.ofPlatform().daemon().name("rss-sampler").start(this::sample);
    }

    /** Starts {@code serve ARGS} with JVM options {@code jvm}; its output goes to {@code log}. Waits until it listens. */
    static CoordinatorChild start(List<String> jvm, List<String> serveArgs, Path log) throws InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow"));
        cmd.addAll(jvm);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.merit.coordinator.cli.CoordinatorMain", "serve"));
        cmd.addAll(serveArgs);
        Process p;
        PrintWriter out;
        try {
            out = new PrintWriter(Files.newBufferedWriter(log), true);
            out.println("$ " + String.join(" ", cmd));
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the coordinator", e);
        }
        CompletableFuture<String> address = new CompletableFuture<>();
        CompletableFuture<String> token = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("coordinator-output").start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    out.println(l);
                    if (l.startsWith("Merit coordinator on ")) {
                        address.complete(l.substring("Merit coordinator on ".length()).split(" ")[0]);
                    } else if (l.startsWith("Admin token (shown once): ")) {
                        token.complete(l.substring("Admin token (shown once): ".length()).trim());
                    }
                }
            } catch (IOException ignored) {
                // the process ended; reported below
            } finally {
                address.completeExceptionally(new IllegalStateException("the coordinator exited before it listened; see " + log));
                token.completeExceptionally(new IllegalStateException("the coordinator printed no admin token; see " + log));
                out.close();
            }
        });
        try {
            String at = address.get(3, TimeUnit.MINUTES);
            String admin = token.get(1, TimeUnit.MINUTES);
            return new CoordinatorChild(p, "merit://" + at, admin);
        } catch (Exception e) {
            p.destroyForcibly().waitFor();
            throw new IllegalStateException("coordinator did not start: " + e.getMessage(), e);
        }
    }

    String url() {
        return url;
    }

    String adminToken() {
        return adminToken;
    }

    long pid() {
        return process.pid();
    }

    /** The samples so far, their times in seconds from {@code zeroNanos} ({@link System#nanoTime()}). */
    List<Sample> samples(long zeroNanos) {
        return samples.stream().map(s -> s.from(zeroNanos, started)).toList();
    }

    /** The current reading, taken now. */
    Sample sampleNow() {
        return read();
    }

    private void sample() {
        while (process.isAlive()) {
            Sample s = read();
            if (s != null) {
                samples.add(s);
            }
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private Sample read() {
        Path proc = Path.of("/proc", Long.toString(process.pid()));
        try {
            long rss = -1;
            long anon = -1;
            long file = -1;
            int threads = -1;
            for (String line : Files.readAllLines(proc.resolve("status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("\\D", ""));
                } else if (line.startsWith("RssAnon:")) {
                    anon = Long.parseLong(line.replaceAll("\\D", ""));
                } else if (line.startsWith("RssFile:")) {
                    file = Long.parseLong(line.replaceAll("\\D", ""));
                } else if (line.startsWith("Threads:")) {
                    threads = Integer.parseInt(line.replaceAll("\\D", ""));
                }
            }
            int fds;
            try (Stream<Path> s = Files.list(proc.resolve("fd"))) {
                fds = (int) s.count();
            }
            // Fields 14 and 15 of /proc/PID/stat (utime, stime in clock ticks) are the 12th and 13th after the command name.
            String stat = Files.readString(proc.resolve("stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            double cpu = (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
            return new Sample((System.nanoTime() - started) / 1e9, rss, anon, file, threads, fds, cpu);
        } catch (IOException | RuntimeException e) {
            return null; // the process is gone
        }
    }

    /**
     * The JVM's heap as {@code jcmd GC.heap_info} reports it, then a full GC ({@code GC.run}), the
     * heap and VmRSS/RssAnon again: what of the resident memory was live data and what garbage or
     * reserve the collector had not given back.
     */
    String heapAfterFullGc() throws InterruptedException {
        StringBuilder b = new StringBuilder();
        Sample before = read();
        b.append(jcmd("GC.heap_info"));
        b.append(before == null ? "" : String.format("VmRSS %d MiB, RssAnon %d MiB%n", before.rssKb() / 1024, before.anonKb() / 1024));
        b.append("--- after GC.run\n");
        jcmd("GC.run");
        Thread.sleep(2000);
        b.append(jcmd("GC.heap_info"));
        Sample after = read();
        b.append(after == null ? "" : String.format("VmRSS %d MiB, RssAnon %d MiB%n", after.rssKb() / 1024, after.anonKb() / 1024));
        return b.toString();
    }

    private String jcmd(String command) throws InterruptedException {
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        try {
            Process p = new ProcessBuilder(jcmd.toString(), Long.toString(process.pid()), command).redirectErrorStream(true).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(60, TimeUnit.SECONDS);
            return text.lines().filter(l -> !l.matches("\\d+:")).reduce("", (a, l) -> a + l + "\n");
        } catch (IOException e) {
            return "jcmd " + command + ": " + e.getMessage() + "\n";
        }
    }

    /** Stops it as Ctrl-C would (it finishes merges and closes its store); returns the exit code (forcibly after a minute: -1). */
    int stop() throws InterruptedException {
        sampler.interrupt();
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            return -1;
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            stop();
        }
    }
}
