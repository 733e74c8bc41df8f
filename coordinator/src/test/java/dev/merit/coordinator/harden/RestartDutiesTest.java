package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.store.ObjectId;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * After a restart every policy picks up what it owes, and a repeated push gets the truth.
 * A real coordinator on loopback gRPC over real RocksDB, stopped and started on the same data.
 */
class RestartDutiesTest {

    private static final PolicyConfig AUTO = PolicyConfig.defaults().withPolicy(MergePolicy.AUTO);
    private static final PolicyConfig MANUAL = PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL);

    @TempDir
    Path dir;

    private static ProposalStatus status(LoopbackCoordinator c, String id) {
        return c.proposals(c.adminToken).getProposal(GetProposalRequest.newBuilder().setId(id).build()).getStatus();
    }

    /**
     * Before the fix: the three proposals stayed "accepted" forever after the restart under auto
     * (only batch rescheduled), so this failed waiting for them to merge.
     */
    @Test
    void autoMergesOnStartWhatWasAcceptedButNotMergedBeforeTheStop() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(MANUAL))) {
            // Stored as accepted and queued, never merged: what a crash between storing and merging leaves.
            List<String> ids = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Proposal p = c.push("alice", c.v0, new long[] {i, 40 + i}, new float[] {0.5f, -0.25f}, "owed " + i);
                assertEquals(ProposalStatus.ACCEPTED, p.getStatus(), p.toString());
                ids.add(p.getId());
            }
            c.stop();

            c.start(b -> b.policy(AUTO));
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!ids.stream().allMatch(id -> status(c, id) == ProposalStatus.MERGED)) {
                if (System.nanoTime() > deadline) {
                    fail("still not merged a minute after the restart: " + ids.stream().map(id -> id + "=" + status(c, id)).toList());
                }
                Thread.sleep(50);
            }
            ObjectId head = c.head();
            assertNotEquals(c.v0, head);
            assertEquals(3, c.coord.versions().number(head), "auto merges each owed proposal as its own version");
            assertEquals(List.of(), c.coord.repository().fsck(dev.merit.store.ProgressListener.NONE).problems(), "the store is consistent");
        }
    }

    /**
     * Before the fix: each repeat was rejected with "same digest as proposal pN", whatever pN's
     * status, so the client exited 5 for a change that had merged.
     */
    @Test
    void aRepeatedPushAnswersWithTheOriginalProposalAsItStandsNow() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(AUTO))) {
            LoopbackCoordinator.Signed merged = c.proposal("alice", c.v0, new long[] {1, 2}, new float[] {1f, 2f}, "merged one");
            Proposal first = c.push("alice", merged);
            assertEquals(ProposalStatus.MERGED, first.getStatus(), first.toString());
            c.stop();

            c.start(b -> b.policy(MANUAL));
            LoopbackCoordinator.Signed pending = c.proposal("alice", c.head(), new long[] {3}, new float[] {0.75f}, "waits for review");
            Proposal waiting = c.push("alice", pending);
            assertEquals(ProposalStatus.ACCEPTED, waiting.getStatus(), waiting.toString());
            ObjectId unknown = ObjectId.fromString("cd".repeat(32));
            LoopbackCoordinator.Signed lost = c.proposal("alice", unknown, new long[] {4}, new float[] {1f}, "unknown base");
            Proposal rejected = c.push("alice", lost);
            assertEquals(ProposalStatus.REJECTED, rejected.getStatus());
            c.stop();

            // The client lost its answers (a crash, a cut connection) and pushes all three again.
            c.start(b -> b.policy(MANUAL));
            Proposal again = c.push("alice", merged);
            assertEquals(ProposalStatus.MERGED, again.getStatus(), again.toString());
            assertEquals(first.getId(), again.getId());
            assertEquals(first.getMergedIn(), again.getMergedIn());

            Proposal stillWaiting = c.push("alice", pending);
            assertEquals(ProposalStatus.ACCEPTED, stillWaiting.getStatus(), stillWaiting.toString());
            assertEquals(waiting.getId(), stillWaiting.getId(), "no second proposal for the same change");

            Proposal rejectedAgain = c.push("alice", lost);
            assertEquals(ProposalStatus.REJECTED, rejectedAgain.getStatus());
            assertEquals(rejected.getReasonsList(), rejectedAgain.getReasonsList(), "rejected for its own reason, not as a duplicate");

            assertEquals(ProposalStatus.ACCEPTED, status(c, waiting.getId()), "manual still waits for a maintainer");
            assertTrue(c.coord.proposals().store().queued("main").stream().anyMatch(p -> p.id().equals(waiting.getId())));
        }
    }
}
