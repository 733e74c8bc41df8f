package dev.merit.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.MergeProvenance;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.merge.MergeParameters;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.tensor.DType;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** With server momentum each merge moves the head by eta x v, v = beta v + the merged change, so past rounds keep pushing. */
class ServerMomentumTest {

    @TempDir
    Path dir;

    private static float w(PipelineFixture fx, ObjectId version, long at) {
        try (SafetensorsFile f = fx.coord.repository().openVersion(version)) {
            return DType.F32.getFloat(f.data("w"), at);
        }
    }

    private static ObjectId awaitMove(PipelineFixture fx, ObjectId from) throws InterruptedException {
        ObjectId head = from;
        for (int i = 0; i < 200 && head.equals(from); i++) {
            Thread.sleep(50);
            head = fx.head();
        }
        assertNotEquals(from, head, "the batch merged");
        return head;
    }

    @Test
    void eachMergeAddsTheDecayedVelocityOfThePastMerges() throws Exception {
        PolicyConfig pc = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withBatch(1, Duration.ofMinutes(10))
                .withParameters(MergeParameters.defaults().with(Map.of("step_size", 2.0))).withServerMomentum(0.5);
        try (PipelineFixture fx = new PipelineFixture(dir, pc)) {
            assertEquals(ProposalStatus.ACCEPTED, fx.push(fx.v0, new long[] {1}, new float[] {1f}, "a").getStatus());
            ObjectId v1 = awaitMove(fx, fx.v0);
            // v = D = 1 at entry 1; the head moves by eta v = 2.
            assertEquals(w(fx, fx.v0, 1) + 2f, w(fx, v1, 1), 1e-5);
            assertEquals(ProposalStatus.ACCEPTED, fx.push(v1, new long[] {2}, new float[] {3f}, "b").getStatus());
            ObjectId v2 = awaitMove(fx, v1);
            // v = 0.5 x (1 at entry 1) + (3 at entry 2): entry 1 moves again by 2 x 0.5, entry 2 by 2 x 3.
            assertEquals(w(fx, v1, 1) + 1f, w(fx, v2, 1), 1e-5);
            assertEquals(w(fx, v1, 2) + 6f, w(fx, v2, 2), 1e-5);
            assertEquals(w(fx, v1, 3), w(fx, v2, 3), 0f);
            MergeProvenance prov = MergeProvenance.of(fx.coord.repository().readCommit(v2).provenance()).orElseThrow();
            assertEquals(0.5, ((Number) prov.parameters().get("server_momentum")).doubleValue());
        }
    }
}
