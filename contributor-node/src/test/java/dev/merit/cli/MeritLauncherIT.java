package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Drives the real {@code ./merit} launcher script (runs after the CLI is packaged). */
class MeritLauncherIT {

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Path repoRoot() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("merit")) && Files.isRegularFile(p.resolve("mvnw"))) {
                return p;
            }
        }
        throw new IllegalStateException("no ./merit above " + Path.of("").toAbsolutePath());
    }

    private Run merit(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(repoRoot().resolve("merit").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile());
        pb.environment().putAll(env);
        Path out = dir.resolve("stdout.txt");
        Path err = dir.resolve("stderr.txt");
        pb.redirectOutput(out.toFile()).redirectError(err.toFile());
        Process p = pb.start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("./merit " + String.join(" ", args) + " did not finish");
        }
        return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void launcherRunsCommandsWithExitCodes() throws Exception {
        TestModels.builder().tensor("w", DType.F32, 32, 32).write(dir.resolve("m.safetensors"));
        Run version = merit(Map.of(), "--version");
        assertEquals(0, version.code(), version.toString());
        assertTrue(version.out().startsWith("merit "), version.out());
        assertFalse(version.err().contains("building"), "the packaged CLI is up to date, no rebuild: " + version.err());

        Run init = merit(Map.of(), "init", "--from", "m.safetensors", "-m", "first");
        assertEquals(0, init.code(), init.toString());
        Run log = merit(Map.of(), "-C", ".", "log", "--oneline");
        assertEquals(0, log.code(), log.toString());
        assertTrue(log.out().trim().endsWith(" first"), log.out());

        Run missing = merit(Map.of(), "show", "HEAD~3");
        assertEquals(3, missing.code(), missing.toString());
        assertTrue(missing.err().startsWith("merit: "), missing.err());

        // MERIT_JAVA_OPTS reaches the JVM: -version makes it print its version and exit.
        Run opts = merit(Map.of("MERIT_JAVA_OPTS", "-version"), "log");
        assertEquals(0, opts.code(), opts.toString());
        assertTrue(opts.err().contains("version \"2"), opts.err());
    }

    @Test
    void serveRunsTheCoordinatorsProgram() throws Exception {
        for (String[] args : List.of(new String[] {"serve", "--help"}, new String[] {"help", "serve"}, new String[] {"-q", "serve", "-h"})) {
            Run help = merit(Map.of(), args);
            assertEquals(0, help.code(), help.toString());
            assertTrue(help.out().contains("Usage: merit serve") && help.out().contains("--policy"), help.out());
        }
        Run bad = merit(Map.of(), "serve", "--polcy", "batch");
        assertEquals(2, bad.code(), bad.toString());
        assertTrue(bad.err().contains("--polcy"), bad.err());
    }

    @Test
    void demoRunsDaemonsThatImproveTheSharedModel() throws Exception {
        Run demo = merit(Map.of(), "demo", "-k", "2", "-r", "2", "--steps", "20", "--json", "--dir", dir.resolve("demo").toString());
        assertEquals(0, demo.code(), demo.toString());
        com.fasterxml.jackson.databind.JsonNode n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(demo.out());
        assertTrue(n.path("ok").asBoolean(), demo.out());
        assertFalse(demo.err().contains("SLF4J"), "logging set-up noise on stderr: " + demo.err());
        assertEquals(2, n.path("rounds").size(), demo.out());
        double base = n.path("base_accuracy").asDouble();
        assertTrue(base > 0.1 && base < 1, demo.out());
        for (var r : n.path("rounds")) {
            assertEquals(2, r.path("contributors").size(), demo.out());
            assertTrue(r.path("merged_accuracy").asDouble() > 0.1, demo.out());
            assertTrue(r.path("bytes_pushed").asLong() > 0 && r.path("dense_bytes").asLong() >= 100 * r.path("bytes_pushed").asLong(), demo.out());
        }
    }

    @Test
    void demoLocalWalksThroughTheLocalCommands() throws Exception {
        Run demo = merit(Map.of(), "demo", "--local", "--params", "20000", "--dir", dir.resolve("local").toString());
        assertEquals(0, demo.code(), demo.toString());
        assertTrue(demo.out().contains("$ merit diff v1 HEAD"), demo.out());
        assertTrue(demo.out().contains("demo finished: every step succeeded"), demo.out());
    }

    @Test
    void helpAndSuggestionsThroughTheLauncher() throws Exception {
        Run serve = merit(Map.of(), "serve", "--help");
        assertEquals(0, serve.code(), serve.toString());
        assertTrue(serve.out().contains("--port") && serve.out().contains("7070"), "options and defaults: " + serve.out());
        Run typo = merit(Map.of(), "lgo");
        assertEquals(2, typo.code(), typo.toString());
        assertTrue(typo.err().contains("did you mean 'log'?"), typo.err());
    }

    @Test
    void commandsUseTheAotCacheAndSurviveABrokenOne() throws Exception {
        TestModels.builder().tensor("w", DType.F32, 8, 8).write(dir.resolve("m.safetensors"));
        assertEquals(0, merit(Map.of(), "init", "--from", "m.safetensors", "-m", "first").code());
        // -Xlog:aot=info after the launcher's own options: the JVM says whether it mapped the cache.
        Run used = merit(Map.of("MERIT_JAVA_OPTS", "-Xlog:aot=info"), "log", "--oneline");
        assertEquals(0, used.code(), used.toString());
        assertTrue(used.out().contains("Opened AOT cache"), "the launcher's AOT cache matches the jars: " + used.out());

        // Files are swapped by renaming, so a JVM that has the cache mapped keeps its copy.
        Path cache = repoRoot().resolve("contributor-node/target/fast-start/merit.aot");
        Path saved = cache.resolveSibling("merit.aot.saved-by-test");
        Path garbage = cache.resolveSibling("merit.aot.garbage-by-test");
        Files.write(garbage, new byte[4096]); // not a cache at all
        Files.move(cache, saved, StandardCopyOption.REPLACE_EXISTING);
        try {
            Files.move(garbage, cache);
            Run broken = merit(Map.of(), "log", "--oneline");
            assertEquals(0, broken.code(), broken.toString());
            assertTrue(broken.out().trim().endsWith(" first"), broken.out());
        } finally {
            Files.move(saved, cache, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
