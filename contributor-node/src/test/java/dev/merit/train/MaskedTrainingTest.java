package dev.merit.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MaskedTrainingTest {

    @Test
    void fishMaskHasExactDensityAndTrainingChangesNothingOutsideIt() {
        Examples shard = ShardSpec.parse("dirichlet:0.5:4:1").select(TrainData.train(), 3);
        try (MemoryTensors init = ModelSpec.parse("mlp:784-64-32-10").initialize(7);
             Model model = new Model(Network.of(init, java.util.Optional.empty()), init, Device.cpu());
             NDManager work = model.manager().newSubManager()) {
            long n = model.parameterCount();
            long k = Masks.k(0.005, n);
            long t0 = System.nanoTime();
            Map<String, NDArray> f = Fisher.diagonal(model, shard.sample(256, 1), Fisher.Kind.EMPIRICAL, work);
            long t1 = System.nanoTime();
            Masks.Mask mask = Masks.topK(f, k, work);
            long t2 = System.nanoTime();
            long ones = mask.masks().values().stream().mapToLong(m -> (long) m.sum().getFloat()).sum();
            assertEquals(k, ones);
            assertEquals(Math.round(0.005 * n), k);
            MaskedTrainer.Stats st = new MaskedTrainer(model, mask, MaskedTrainer.Optimizer.SGD, 0.1).train(shard, 200, 64, 1, TrainListener.NONE);
            System.out.printf("fisher %.3fs, topk %.3fs, train %.3fs (%.0f ex/s)%n", (t1 - t0) / 1e9, (t2 - t1) / 1e9, st.seconds(), st.examplesPerSecond());
            try (MemoryTensors after = model.snapshot("after")) {
                long changed = 0;
                for (var t : init.tensors()) {
                    float[] m = mask.of(t.name()).toFloatArray();
                    for (int i = 0; i < m.length; i++) {
                        float a = init.data(t.name()).getAtIndex(MemoryTensors.F32, i);
                        float b = after.data(t.name()).getAtIndex(MemoryTensors.F32, i);
                        if (m[i] == 0f) {
                            assertEquals(Float.floatToIntBits(a), Float.floatToIntBits(b), t.name() + "[" + i + "] changed outside the mask");
                        } else if (a != b) {
                            changed++;
                        }
                    }
                }
                assertTrue(changed > k / 2, "training changed only " + changed + " of " + k + " masked entries");
            }
        }
    }
}
