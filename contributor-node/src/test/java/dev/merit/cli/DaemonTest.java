package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteProposal;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** merit daemon as real processes against a real coordinator, training a small MLP on Fashion-MNIST. */
class DaemonTest {

    private static final Duration LONG = Duration.ofMinutes(4);

    @TempDir
    Path dir;

    private static List<RemoteProposal> proposalsOf(DaemonFixture fx, String who) {
        try (RemoteClient c = RemoteClient.connect(fx.url, fx.admin)) {
            return c.proposals("main", Optional.empty(), 100).stream().filter(p -> p.contributor().equals(who)).toList();
        }
    }

    private static RemoteBranch main(DaemonFixture fx) {
        try (RemoteClient c = RemoteClient.connect(fx.url, fx.admin)) {
            return c.branch("main").orElseThrow();
        }
    }

    private static void approve(DaemonFixture fx, RemoteProposal p) {
        try (RemoteClient c = RemoteClient.connect(fx.url, fx.admin)) {
            assertEquals(RemoteProposal.Status.MERGED, c.review(p.id(), true, "ok").status());
        }
    }

    @Test
    void twoDaemonsAndACoordinatorCompleteRounds() throws Exception {
        try (DaemonFixture fx = new DaemonFixture(dir, MergePolicy.BATCH, 2, null)) {
            long base = main(fx).number();
            DaemonFixture.Daemon ann = fx.daemon(fx.contributor("ann"), "--rounds", "2", "--shard", "dirichlet:0.5:2:0");
            DaemonFixture.Daemon ben = fx.daemon(fx.contributor("ben"), "--rounds", "2", "--shard", "dirichlet:0.5:2:1");
            assertEquals(0, ann.exit(LONG), ann.stderr());
            assertEquals(0, ben.exit(LONG), ben.stderr());
            for (DaemonFixture.Daemon d : List.of(ann, ben)) {
                List<JsonNode> rounds = d.events("round");
                assertEquals(2, rounds.size(), d.events.toString());
                // round 1 on the published version, round 2 on the version the first batch made
                assertEquals(base, rounds.get(0).path("version").asLong());
                assertEquals(base + 1, rounds.get(1).path("version").asLong());
                for (JsonNode r : rounds) {
                    assertTrue(r.path("val_accuracy").asDouble() > 0.1, r.toString());
                    assertTrue(r.path("bytes_sent").asLong() > 0 && r.path("bytes_sent").asLong() < r.path("dense_bytes").asLong(), r.toString());
                    assertTrue(Double.isFinite(r.path("loss").asDouble()), r.toString());
                }
                assertEquals(1, d.events("done").size());
            }
            long until = System.nanoTime() + LONG.toNanos();
            while (main(fx).number() < base + 2 && System.nanoTime() < until) {
                Thread.sleep(200);
            }
            assertEquals(base + 2, main(fx).number(), "two batches of two proposals merged");
            List<RemoteProposal> all = proposalsOf(fx, "ann");
            assertEquals(2, all.size());
            assertEquals(4, all.size() + proposalsOf(fx, "ben").size());
            assertTrue(all.stream().allMatch(p -> p.status() == RemoteProposal.Status.MERGED), all.toString());
        }
    }

    @Test
    void aDaemonKilledAndRestartedPushesNoDuplicateAndCarriesOn() throws Exception {
        try (DaemonFixture fx = new DaemonFixture(dir, MergePolicy.MANUAL, 1, null)) {
            Path clone = fx.contributor("cat");
            DaemonFixture.Daemon first = fx.daemon(clone, "--shard", "iid:4:0");
            first.await("round", 1, LONG);
            first.await("waiting", 1, LONG);
            first.process.destroyForcibly().waitFor(); // SIGKILL while it waits for the next version
            // The crash this models came between the coordinator storing the proposal and the daemon noting it.
            try (Repository r = Repository.open(clone)) {
                ObjectId mine = r.head().orElseThrow();
                try (var tx = r.newTransaction()) {
                    tx.deleteRecord("pushed", mine.name());
                    tx.commit();
                }
            }
            DaemonFixture.Daemon second = fx.daemon(clone, "--shard", "iid:4:0");
            second.await("already-pushed", 1, LONG);
            List<RemoteProposal> ps = proposalsOf(fx, "cat");
            assertEquals(1, ps.size(), "the restarted daemon did not push the same update again: " + ps);
            assertEquals(ps.get(0).id(), second.events("already-pushed").get(0).path("proposal").asText());

            approve(fx, ps.get(0));
            second.await("training", 1, LONG);
            second.process.destroyForcibly().waitFor(); // SIGKILL mid-round
            DaemonFixture.Daemon third = fx.daemon(clone, "--shard", "iid:4:0");
            third.awaitThat("a push of round 2 (or the note that it went out)",
                    () -> !third.events("round").isEmpty() || !third.events("already-pushed").isEmpty(), LONG);
            ps = proposalsOf(fx, "cat");
            assertEquals(2, ps.size(), ps.toString());
            Set<String> digests = ps.stream().map(RemoteProposal::digest).collect(Collectors.toSet());
            assertEquals(2, digests.size());
            assertNotEquals(ps.get(0).baseVersion(), ps.get(1).baseVersion(), "one proposal per version");
        }
    }

    @Test
    void theDaemonWaitsWhileTheCoordinatorIsAwaySaysSoOnceAndResumes() throws Exception {
        try (DaemonFixture fx = new DaemonFixture(dir, MergePolicy.MANUAL, 1, null)) {
            DaemonFixture.Daemon d = fx.daemon(fx.contributor("dan"), "--shard", "iid:4:1");
            d.await("round", 1, LONG);
            d.await("waiting", 1, LONG);
            fx.stopCoordinator();
            d.await("unavailable", 1, Duration.ofMinutes(1));
            Thread.sleep(4000); // several retries (backoff up to 1 s here)
            assertEquals(1, d.events("unavailable").size(), d.events.toString());
            assertTrue(d.process.isAlive());
            fx.restartCoordinator();
            d.await("back", 1, Duration.ofMinutes(1));
            approve(fx, proposalsOf(fx, "dan").get(0));
            d.await("round", 2, LONG);
            assertEquals(1, d.events("unavailable").size(), d.events.toString());
            assertEquals(1, d.events("back").size(), d.events.toString());
            assertEquals(2, proposalsOf(fx, "dan").size());
        }
    }
}
