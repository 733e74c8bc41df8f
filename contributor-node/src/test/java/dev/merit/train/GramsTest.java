package dev.merit.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import dev.merit.tensor.DType;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ImageSet;
import dev.merit.train.data.ShardSpec;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class GramsTest {

    /** The first layer's inputs are the pixels, so its Gram matrix can be checked from the images alone. */
    @Test
    void firstLayerGramIsTheMeanOuterProductOfThePixelsPackedUpperRowMajor() {
        ImageSet train = TrainData.train();
        Examples ex = ShardSpec.parse("iid:10:3").select(train, 0).head(300);
        try (MemoryTensors init = ModelSpec.parse("mlp:784-16-10").initialize(2);
             Model model = new Model(Network.of(init, Optional.empty()), init, Device.cpu());
             MemoryTensors g = Grams.compute(model, ex, DType.F32, 128)) {
            assertEquals("300", g.metadata().get(Grams.EXAMPLES_KEY));
            int[] idx = ex.indices();
            float[][] x = new float[idx.length][784];
            var xb = java.nio.FloatBuffer.allocate(784);
            var yb = java.nio.LongBuffer.allocate(1);
            for (int n = 0; n < idx.length; n++) {
                train.fill(idx, n, 1, xb, yb);
                xb.get(x[n]);
            }
            long at = 0;
            double worst = 0;
            for (int i = 0; i < 784; i++) {
                for (int j = i; j < 784; j++) {
                    double s = 0;
                    for (float[] row : x) {
                        s += (double) row[i] * row[j];
                    }
                    double expected = s / idx.length;
                    worst = Math.max(worst, Math.abs(expected - g.data("0.weight").getAtIndex(MemoryTensors.F32, at++)));
                }
            }
            assertEquals(784L * 785 / 2, at);
            assertEquals(0, worst, 1e-4);
            // the second layer's Gram is 16 x 16
            assertEquals(16L * 17 / 2, g.info("2.weight").orElseThrow().numel());
        }
    }
}
