package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The crash harness, short: a coordinator process killed with SIGKILL a few times while
 * contributors push (the full run: {@code benchmarks/crash-harness.sh}, at least 20 kills).
 * Set {@code -Dmerit.crash.kills=N} and {@code -Dmerit.crash.contributors=N} for longer runs.
 */
class CrashHarnessTest {

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedPushSurvivesKillsOnceAndTheStoreStaysSound() throws Exception {
        int kills = Integer.getInteger("merit.crash.kills", 3);
        int contributors = Integer.getInteger("merit.crash.contributors", 3);
        long seed = Long.getLong("merit.crash.seed", System.nanoTime());
        CrashHarness.Figures f = new CrashHarness(dir, new CrashHarness.Config(kills, contributors, seed,
                Duration.ofMillis(200), Duration.ofMillis(3000))).run();
        System.out.println("crash harness (seed " + seed + "): " + f.table());
        assertEquals(java.util.List.of(), f.problems(), f.table());
        assertEquals(kills, f.kills());
        assertTrue(f.acknowledged() > 0, "pushes were acknowledged: " + f.table());
        assertEquals(f.acknowledged(), f.merged(), f.table());
    }
}
