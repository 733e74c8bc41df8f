package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.remote.RemoteClient;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM to a daemon started by the packaged ./merit launcher (runs after package). */
class DaemonSigtermIT {

    private static final Duration LONG = Duration.ofMinutes(4);

    @TempDir
    Path dir;

    private static int proposalsOf(DaemonFixture fx, String who) {
        try (RemoteClient c = RemoteClient.connect(fx.url, fx.admin)) {
            return (int) c.proposals("main", Optional.empty(), 100).stream().filter(p -> p.contributor().equals(who)).count();
        }
    }

    @Test
    void sigtermStopsTheDaemonBetweenStepsWithNothingHalfDone() throws Exception {
        try (DaemonFixture fx = new DaemonFixture(dir, MergePolicy.MANUAL, 1, null)) {
            Path clone = fx.contributor("eve");
            ObjectId before;
            try (Repository r = Repository.open(clone)) {
                before = r.head().orElseThrow();
            }
            DaemonFixture.Daemon d = fx.launched(clone, 1_000_000, "--shard", "iid:4:2");
            d.await("training", 1, LONG);
            Thread.sleep(1500);
            d.process.destroy(); // SIGTERM
            assertEquals(143, d.exit(Duration.ofMinutes(1)), d.stderr());
            assertEquals(0, d.events("round").size());
            assertEquals(0, proposalsOf(fx, "eve"));
            try (Repository r = Repository.open(clone)) {
                assertEquals(before, r.head().orElseThrow(), "nothing committed by the interrupted round");
            }
        }
    }
}
