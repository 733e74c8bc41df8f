package dev.merit.bench.cli;

import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.tools.ToolProvider;

/**
 * How long {@code merit log --oneline}, {@code status} and {@code show} take on a small repository,
 * next to a JVM hello world, all measured in one run (the machine is shared, so only ratios within
 * a run compare). Each round runs every command once, interleaved, so a busy moment hits them all.
 *
 * <pre>benchmarks/run cli.StartupBench [rounds=15] [dir=/tmp/merit-startup-bench] [launcher=./merit]</pre>
 *
 * Prints the median and minimum wall time of each command, its ratio to the hello world's median,
 * and the mean CPU time (user + system, from this process's reaped-children counters). Set
 * {@code MERIT_AOT=0} in the environment to measure the launcher without its AOT cache;
 * {@code launcher=} another checkout's {@code merit} to compare versions.
 */
public final class StartupBench {

    private StartupBench() {}

    record Command(String name, List<String> argv, Map<String, String> env) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> opts = new LinkedHashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            opts.put(eq < 0 ? a : a.substring(0, eq), eq < 0 ? "" : a.substring(eq + 1));
        }
        int rounds = Integer.parseInt(opts.getOrDefault("rounds", "15"));
        Path dir = Path.of(opts.getOrDefault("dir", "/tmp/merit-startup-bench")).toAbsolutePath();
        Path launcher = Path.of(opts.getOrDefault("launcher", repoRoot().resolve("merit").toString())).toAbsolutePath();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();

        deleteTree(dir);
        Files.createDirectories(dir);
        Path hello = writeHelloWorld(dir.resolve("hello"));
        Path base = TestModels.builder().seed(1).tensor("fc1.weight", DType.F32, 64, 32).tensor("fc1.bias", DType.F32, 64)
                .tensor("fc2.weight", DType.F32, 10, 64).write(dir.resolve("base.safetensors"));
        TestModels.perturb(base, dir.resolve("tuned.safetensors"), 0.05, 2);

        // The first runs build the CLI and its fast start if needed; they are not timed.
        run(dir, List.of(launcher.toString(), "init", "--from", "base.safetensors", "-m", "base"), Map.of());
        run(dir, List.of(launcher.toString(), "commit", "tuned.safetensors", "-m", "tuned"), Map.of());

        List<Command> commands = List.of(
                new Command("java Hello", List.of(java, "-cp", hello.toString(), "Hello"), Map.of()),
                new Command("merit log --oneline", List.of(launcher.toString(), "log", "--oneline"), Map.of()),
                new Command("merit status FILE", List.of(launcher.toString(), "status", "tuned.safetensors"), Map.of()),
                new Command("merit show", List.of(launcher.toString(), "show"), Map.of()));
        for (Command c : commands) {
            run(dir, c.argv(), c.env()); // warm the page cache
        }
        Map<String, List<Double>> wall = new LinkedHashMap<>();
        Map<String, Double> cpu = new LinkedHashMap<>();
        for (int r = 0; r < rounds; r++) {
            for (Command c : commands) {
                double cpuBefore = childrenCpuSeconds();
                long t0 = System.nanoTime();
                run(dir, c.argv(), c.env());
                double ms = (System.nanoTime() - t0) / 1e6;
                wall.computeIfAbsent(c.name(), k -> new ArrayList<>()).add(ms);
                cpu.merge(c.name(), childrenCpuSeconds() - cpuBefore, Double::sum);
            }
        }
        double helloMedian = median(wall.get("java Hello"));
        System.out.printf("%d rounds on %d cores (load average %s), launcher %s, MERIT_AOT=%s%n", rounds,
                Runtime.getRuntime().availableProcessors(), loadAverage(), launcher, System.getenv().getOrDefault("MERIT_AOT", "1"));
        System.out.printf("%-22s %10s %10s %10s %12s%n", "command", "median ms", "min ms", "x hello", "cpu ms/run");
        for (var e : wall.entrySet()) {
            double med = median(e.getValue());
            System.out.printf("%-22s %10.0f %10.0f %10.1f %12.0f%n", e.getKey(), med,
                    e.getValue().stream().mapToDouble(Double::doubleValue).min().orElse(0), med / helloMedian,
                    1000 * cpu.get(e.getKey()) / rounds);
        }
    }

    private static void run(Path dir, List<String> argv, Map<String, String> env)
            throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(argv).directory(dir.toFile())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(dir.resolve("stderr.txt").toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", argv) + " did not finish in 10 minutes");
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", argv) + " exited with " + p.exitValue() + ":\n"
                    + Files.readString(dir.resolve("stderr.txt")));
        }
    }

    /** Hello world, compiled here with the running JDK's compiler. */
    private static Path writeHelloWorld(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path src = dir.resolve("Hello.java");
        Files.writeString(src, "public class Hello { public static void main(String[] a) { System.out.println(\"hello\"); } }\n",
                StandardCharsets.UTF_8);
        if (ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", dir.toString(), src.toString()) != 0) {
            throw new IllegalStateException("javac failed on " + src);
        }
        return dir;
    }

    /** User + system CPU of this process's waited-for children, from /proc (Linux), in seconds. */
    private static double childrenCpuSeconds() throws IOException {
        String stat = Files.readString(Path.of("/proc/self/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        // Fields 16 and 17 of /proc/PID/stat (cutime, cstime) are the 14th and 15th after the command name.
        return (Long.parseLong(f[13]) + Long.parseLong(f[14])) / 100.0;
    }

    private static String loadAverage() throws IOException {
        return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
    }

    private static double median(List<Double> xs) {
        List<Double> s = xs.stream().sorted().toList();
        return s.get(s.size() / 2);
    }

    static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("merit")) && Files.isRegularFile(p.resolve("mvnw"))) {
                return p;
            }
        }
        throw new IllegalStateException("no ./merit above " + Path.of("").toAbsolutePath());
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
