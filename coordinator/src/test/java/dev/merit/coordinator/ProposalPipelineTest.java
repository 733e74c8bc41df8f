package dev.merit.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.events.VersionEvent;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.MergeProvenance;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.ReviewRequest;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.store.Outbox;
import dev.merit.tensor.DType;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The coordinator's pipeline through its real gRPC services on the in-process transport: signed
 * proposals are validated, stored with their events, and merged by each policy through the one
 * way a branch advances (ref, outbox event and announcement together).
 */
class ProposalPipelineTest {

    private static final Principal WATCHER = new Principal("admin", Role.MAINTAINER);

    @TempDir
    Path dir;

    private static List<Outbox.Event> events(PipelineFixture fx, String topic) {
        return fx.coord.repository().outbox().pending(1000).stream().filter(e -> e.topic().equals(topic)).toList();
    }

    private static float w(PipelineFixture fx, ObjectId version, long at) {
        try (SafetensorsFile f = fx.coord.repository().openVersion(version)) {
            MemorySegment s = f.data("w");
            return DType.F32.getFloat(s, at);
        }
    }

    @Test
    void autoMergesAnAcceptedProposalIntoTheNextVersionWithItsEventAndAnnouncement() throws Exception {
        try (PipelineFixture fx = new PipelineFixture(dir, PolicyConfig.defaults())) {
            List<Versions.NewVersion> seen = new CopyOnWriteArrayList<>();
            try (AutoCloseable watch = fx.coord.versionService().watch(WATCHER, "main", seen::add)) {
                Proposal p = fx.push(fx.v0, new long[] {0, 5, 17}, new float[] {0.5f, -0.25f, 1f}, "first");
                assertEquals(ProposalStatus.MERGED, p.getStatus(), p.toString());
                ObjectId head = fx.head();
                assertNotEquals(fx.v0, head);
                assertEquals(head.name(), p.getMergedIn());
                assertEquals(1, fx.coord.versions().number(head));
                assertEquals(w(fx, fx.v0, 5) - 0.25f, w(fx, head, 5), 1e-6);
                assertEquals(w(fx, fx.v0, 6), w(fx, head, 6), 0.0, "an untouched entry stays");

                assertEquals(1, seen.size(), seen::toString);
                assertEquals(List.of(p.getId()), seen.getFirst().proposals());
                assertEquals(head, seen.getFirst().commit());
            }
            // Both versions (the published one and the merge) and the proposal wait in the outbox (no Kafka here).
            List<VersionEvent> versions = events(fx, Topics.VERSIONS).stream().map(e -> VersionEvent.parse(e.value())).toList();
            assertEquals(List.of(fx.v0.name(), fx.head().name()), versions.stream().map(VersionEvent::commit).toList());
            assertEquals(List.of("publish", "average"), versions.stream().map(VersionEvent::strategy).toList());
            // The proposal's "accepted" event, then its "merged" one (written with the merge commit).
            assertEquals(List.of(dev.merit.coordinator.events.ProposalEvent.Status.ACCEPTED, dev.merit.coordinator.events.ProposalEvent.Status.MERGED),
                    events(fx, Topics.PROPOSALS).stream().map(e -> dev.merit.coordinator.events.ProposalEvent.parse(e.value()).status()).toList());
        }
    }

    @Test
    void manualWaitsForAMaintainersReviewAndOnlyMaintainersMayGiveIt() throws Exception {
        try (PipelineFixture fx = new PipelineFixture(dir, PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL))) {
            Proposal p = fx.push(fx.v0, new long[] {3}, new float[] {2f}, "please review");
            assertEquals(ProposalStatus.ACCEPTED, p.getStatus(), p.toString());
            assertEquals(fx.v0, fx.head(), "nothing merges before the review");

            StatusRuntimeException self = assertThrows(StatusRuntimeException.class, () -> fx.proposals(fx.aliceToken)
                    .review(ReviewRequest.newBuilder().setId(p.getId()).setApprove(true).build()));
            assertEquals(Status.Code.PERMISSION_DENIED, self.getStatus().getCode());
            assertEquals("'alice' has role contributor; reviewing proposals needs maintainer", self.getStatus().getDescription());

            Proposal merged = fx.proposals(fx.adminToken).review(ReviewRequest.newBuilder().setId(p.getId()).setApprove(true)
                    .setMessage("ok").build());
            assertEquals(ProposalStatus.MERGED, merged.getStatus());
            assertEquals(fx.head().name(), merged.getMergedIn());
            MergeProvenance prov = MergeProvenance.of(fx.coord.repository().readCommit(fx.head()).provenance()).orElseThrow();
            assertEquals("manual", prov.policy());
            assertEquals(p.getId(), prov.proposals().getFirst().id());
            assertEquals(java.util.Optional.of("approved by admin: ok"), prov.proposals().getFirst().review());
            assertEquals(100.0, prov.proposals().getFirst().weight(), "staleness 0, 100 examples");

            StatusRuntimeException again = assertThrows(StatusRuntimeException.class, () -> fx.proposals(fx.adminToken)
                    .review(ReviewRequest.newBuilder().setId(p.getId()).setApprove(false).build()));
            assertEquals(Status.Code.FAILED_PRECONDITION, again.getStatus().getCode());
        }
    }

    @Test
    void batchMergesWhenItIsFullIntoOneVersionNamingEveryProposal() throws Exception {
        PolicyConfig batch = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withBatch(2, Duration.ofMinutes(10));
        try (PipelineFixture fx = new PipelineFixture(dir, batch)) {
            Proposal a = fx.push(fx.v0, new long[] {1, 2}, new float[] {1f, 1f}, "a");
            assertEquals(ProposalStatus.ACCEPTED, a.getStatus());
            Proposal b = fx.push(fx.v0, new long[] {2, 9}, new float[] {3f, 1f}, "b");
            assertEquals(ProposalStatus.ACCEPTED, b.getStatus());
            ObjectId head = fx.v0;
            for (int i = 0; i < 200 && head.equals(fx.v0); i++) {
                Thread.sleep(50);
                head = fx.head();
            }
            assertNotEquals(fx.v0, head, "the full batch merged");
            MergeProvenance prov = MergeProvenance.of(fx.coord.repository().readCommit(head).provenance()).orElseThrow();
            assertEquals(2, prov.proposals().size());
            assertEquals("sparse", prov.mode());
            for (String id : List.of(a.getId(), b.getId())) {
                Proposal now = fx.proposals(fx.adminToken).getProposal(GetProposalRequest.newBuilder().setId(id).build());
                assertEquals(ProposalStatus.MERGED, now.getStatus());
                assertEquals(head.name(), now.getMergedIn());
            }
            // Average over both proposals, an untouched coordinate counting 0: entry 2 moves by (1 + 3) / 2.
            assertEquals(w(fx, fx.v0, 2) + 2f, w(fx, head, 2), 1e-5);
        }
    }

    @Test
    void aProposalOnAnUnknownBaseIsRejectedWithItsReasonAndItsEventAndMovesNothing() throws Exception {
        try (PipelineFixture fx = new PipelineFixture(dir, PolicyConfig.defaults())) {
            ObjectId unknown = ObjectId.fromString("cd".repeat(32));
            Proposal p = fx.push(unknown, new long[] {0}, new float[] {1f}, "lost");
            assertEquals(ProposalStatus.REJECTED, p.getStatus());
            assertEquals(List.of("base version cdcdcdcdcdcd is unknown to the coordinator (branch 'main')"), p.getReasonsList());
            assertEquals("staleness", p.getChecks(p.getChecksCount() - 1).getName());
            assertTrue(p.getChecks(0).getPassed(), "what passed before the failure is kept: " + p.getChecksList());
            assertEquals(fx.v0, fx.head());
            assertEquals(1, events(fx, Topics.PROPOSALS).size());
        }
    }
}
