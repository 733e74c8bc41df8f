package dev.merit.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.validate.Evaluator;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorSource;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The merge gate of the batch policy: the batch's merge is scored against the head before it
 * lands; a minority of proposals that drag it down is left out, and a batch that fails anyway is
 * refused with the head left where it was.
 */
class MergeGateTest {

    @TempDir
    Path dir;

    /** A task where the score is the mean of tensor w: a proposal that lowers w lowers the score. */
    private static final Evaluator MEAN_OF_W = new Evaluator() {
        @Override
        public double score(TensorSource model) {
            var w = model.data("w");
            long n = PipelineFixture.W.numel();
            double sum = 0;
            for (long i = 0; i < n; i++) {
                sum += DType.F32.getFloat(w, i);
            }
            return sum / n;
        }

        @Override
        public String describe() {
            return "mean of w";
        }
    };

    private static final long[] FIRST_TEN = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};

    private static float[] all(float v) {
        float[] a = new float[FIRST_TEN.length];
        java.util.Arrays.fill(a, v);
        return a;
    }

    private PipelineFixture fixture() throws Exception {
        PolicyConfig batch = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withBatch(3, Duration.ofMinutes(10));
        return new PipelineFixture(dir, batch, b -> b.mergeGate(new QualityGate(MEAN_OF_W, 0.001)));
    }

    private static Proposal await(PipelineFixture fx, Proposal p) throws InterruptedException {
        for (int i = 0; i < 400; i++) {
            Proposal now = fx.proposals(fx.adminToken).getProposal(GetProposalRequest.newBuilder().setId(p.getId()).build());
            if (now.getStatus() != ProposalStatus.ACCEPTED) {
                return now;
            }
            Thread.sleep(25);
        }
        throw new AssertionError("proposal " + p.getId() + " was neither merged nor refused in 10 s");
    }

    private static float w(PipelineFixture fx, ObjectId version, long at) {
        try (SafetensorsFile f = fx.coord.repository().openVersion(version)) {
            return DType.F32.getFloat(f.data("w"), at);
        }
    }

    @Test
    void aBatchWhoseMergeFailsTheGateLandsWithoutTheProposalThatDragsItDown() throws Exception {
        try (PipelineFixture fx = fixture()) {
            Proposal a = fx.push(fx.v0, FIRST_TEN, all(1f), "honest a");
            Proposal bad = fx.push(fx.v0, FIRST_TEN, all(-30f), "poisoned");
            Proposal b = fx.push(fx.v0, FIRST_TEN, all(2f), "honest b");
            for (Proposal p : List.of(a, bad, b)) {
                assertEquals(ProposalStatus.ACCEPTED, p.getStatus(), p.toString());
            }
            Proposal badNow = await(fx, bad);
            Proposal aNow = await(fx, a);
            Proposal bNow = await(fx, b);
            assertEquals(ProposalStatus.REJECTED, badNow.getStatus(), badNow.toString());
            String reason = String.join("; ", badNow.getReasonsList());
            assertTrue(reason.contains("merge gate") && reason.contains("without this proposal") && reason.contains("mean of w"), reason);
            assertEquals(ProposalStatus.MERGED, aNow.getStatus(), aNow.toString());
            assertEquals(ProposalStatus.MERGED, bNow.getStatus(), bNow.toString());
            ObjectId head = fx.head();
            assertEquals(head.name(), aNow.getMergedIn());
            // The average of the two honest proposals alone: every entry moved by (1 + 2) / 2.
            for (long at : FIRST_TEN) {
                assertEquals(w(fx, fx.v0, at) + 1.5f, w(fx, head, at), 1e-5);
            }
        }
    }

    @Test
    void aBatchThatFailsEvenWithoutAMinorityIsRefusedAndTheHeadStays() throws Exception {
        try (PipelineFixture fx = fixture()) {
            Proposal a = fx.push(fx.v0, FIRST_TEN, all(1f), "honest");
            Proposal bad1 = fx.push(fx.v0, FIRST_TEN, all(-30f), "poisoned 1");
            Proposal bad2 = fx.push(fx.v0, FIRST_TEN, all(-31f), "poisoned 2");
            for (Proposal p : List.of(a, bad1, bad2)) {
                assertEquals(ProposalStatus.ACCEPTED, p.getStatus(), p.toString());
            }
            for (Proposal p : List.of(a, bad1, bad2)) {
                Proposal now = await(fx, p);
                assertEquals(ProposalStatus.REJECTED, now.getStatus(), now.toString());
                assertTrue(String.join("; ", now.getReasonsList()).contains("merge gate"), now.toString());
            }
            // Two of three drag the merge down, but the gate leaves out at most (3 - 1) / 2 = 1.
            assertEquals(fx.v0, fx.head(), "nothing landed");
            assertTrue(String.join("; ", await(fx, a).getReasonsList()).contains("stays at"), "the honest one is told why");
        }
    }
}
