package dev.merit.coordinator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.merit.coordinator.policy.MergePolicy;
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

/** A batch merge moves the head by the server learning rate times the merged change (FedAvg with a server step). */
class ServerLearningRateTest {

    @TempDir
    Path dir;

    private static float w(PipelineFixture fx, ObjectId version, long at) {
        try (SafetensorsFile f = fx.coord.repository().openVersion(version)) {
            return DType.F32.getFloat(f.data("w"), at);
        }
    }

    @Test
    void batchMergeScalesTheAveragedChangeByTheServerLearningRate() throws Exception {
        MergeParameters p = MergeParameters.defaults().with(Map.of("step_size", 2.5, "average_over", "touched"));
        PolicyConfig batch = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withBatch(2, Duration.ofMinutes(10)).withParameters(p);
        try (PipelineFixture fx = new PipelineFixture(dir, batch)) {
            assertEquals(ProposalStatus.ACCEPTED, fx.push(fx.v0, new long[] {1, 2}, new float[] {1f, 1f}, "a").getStatus());
            assertEquals(ProposalStatus.ACCEPTED, fx.push(fx.v0, new long[] {2, 9}, new float[] {3f, 1f}, "b").getStatus());
            ObjectId head = fx.v0;
            for (int i = 0; i < 200 && head.equals(fx.v0); i++) {
                Thread.sleep(50);
                head = fx.head();
            }
            assertNotEquals(fx.v0, head, "the full batch merged");
            // Entry 2: both touched it, mean 2, times 2.5. Entry 1: only a touched it (average over the touching ones), 1 x 2.5.
            assertEquals(w(fx, fx.v0, 2) + 5f, w(fx, head, 2), 1e-5);
            assertEquals(w(fx, fx.v0, 1) + 2.5f, w(fx, head, 1), 1e-5);
            assertEquals(w(fx, fx.v0, 9) + 2.5f, w(fx, head, 9), 1e-5);
            assertEquals(w(fx, fx.v0, 3), w(fx, head, 3), 0f);
        }
    }
}
