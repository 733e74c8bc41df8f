package dev.merit.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class FisherTest {

    /** The batched per-example squares of linear layers equal one backward pass per example. */
    @Test
    void batchedLinearFisherEqualsOneBackwardPassPerExample() {
        Examples ex = ShardSpec.parse("iid:6:1").select(TrainData.train(), 0).sample(40, 2);
        try (MemoryTensors init = ModelSpec.parse("mlp:784-32-16-10").initialize(9);
             Model model = new Model(Network.of(init, Optional.empty()), init, Device.cpu());
             NDManager work = model.manager().newSubManager()) {
            new MaskedTrainer(model, null, MaskedTrainer.Optimizer.SGD, 0.1).train(ex, 20, 32, 1, TrainListener.NONE);
            for (Fisher.Kind kind : Fisher.Kind.values()) {
                Map<String, NDArray> fast = Fisher.diagonal(model, ex, kind, work, true);
                Map<String, NDArray> slow = Fisher.diagonal(model, ex, kind, work, false);
                for (String name : fast.keySet()) {
                    float[] a = fast.get(name).toFloatArray();
                    float[] b = slow.get(name).toFloatArray();
                    double scale = 0;
                    for (float v : b) {
                        scale = Math.max(scale, Math.abs(v));
                    }
                    assertTrue(scale > 0, kind + " " + name + " is all zero");
                    for (int i = 0; i < a.length; i++) {
                        assertTrue(Math.abs(a[i] - b[i]) <= 1e-4 * scale,
                                kind + " " + name + "[" + i + "]: batched " + a[i] + " vs per-example " + b[i]);
                    }
                }
            }
        }
    }
}
