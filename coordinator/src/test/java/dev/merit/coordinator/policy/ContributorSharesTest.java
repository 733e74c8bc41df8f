package dev.merit.coordinator.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.merit.coordinator.proposals.ProposalRecord;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** {@link MergeRunner#cappedWeights}: no contributor holds more than the configured share of a batch's weight. */
class ContributorSharesTest {

    private static ProposalRecord record(String id, String who, long examples) {
        return new ProposalRecord(id, "main", who, "0".repeat(64), ProposalRecord.Status.ACCEPTED, List.of(), List.of(),
                "d" + id, 0, 1.0, examples, false, 1, 0, 1, 1, "", Instant.now(), Optional.empty(), Optional.empty(), List.of("a"));
    }

    @Test
    void aDominantContributorIsCappedAndTheOthersKeepTheirWeights() {
        List<ProposalRecord> batch = List.of(record("p1", "alice", Long.MAX_VALUE), record("p2", "bob", 30),
                record("p3", "carol", 10), record("p4", "alice", Long.MAX_VALUE / 2));
        double[] w = MergeRunner.cappedWeights(batch, 0.5);
        double total = w[0] + w[1] + w[2] + w[3];
        assertEquals(0.5, (w[0] + w[3]) / total, 1e-9, "alice holds half");
        assertEquals(30, w[1], 1e-9);
        assertEquals(10, w[2], 1e-9);
        assertEquals(2.0, w[0] / w[3], 1e-9, "alice's proposals keep their ratio");
    }

    @Test
    void twoDominantContributorsShareTheCapAndAnImpossibleShareIsRaised() {
        double[] w = MergeRunner.cappedWeights(List.of(record("p1", "a", 1000), record("p2", "b", 900), record("p3", "c", 100)), 0.4);
        double total = w[0] + w[1] + w[2];
        assertEquals(0.4, w[0] / total, 1e-9);
        assertEquals(0.4, w[1] / total, 1e-9);
        assertEquals(100, w[2], 1e-9);
        double[] two = MergeRunner.cappedWeights(List.of(record("p1", "a", 1000), record("p2", "b", 1)), 0.25);
        assertEquals(two[0], two[1], 1e-9, "with two contributors a share below 1/2 is raised to 1/2");
        double[] alone = MergeRunner.cappedWeights(List.of(record("p1", "a", 1000), record("p2", "a", 1)), 0.25);
        assertEquals(1000, alone[0], 0, "one contributor's batch is not capped");
    }
}
