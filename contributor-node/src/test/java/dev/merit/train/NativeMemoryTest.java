package dev.merit.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class NativeMemoryTest {

    static long rssKiB() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
    }

    @Test
    void aThousandStepsDoNotGrowTheProcessAfterWarmUp() throws Exception {
        Examples data = ShardSpec.parse("all").select(TrainData.train(), 0);
        try (MemoryTensors init = ModelSpec.parse("mlp:784-32-10").initialize(4);
             Model model = new Model(Network.of(init, Optional.empty()), init, Device.cpu())) {
            Masks.Mask mask = Masks.random(model.params(), Masks.k(0.05, model.parameterCount()), 1, model.manager());
            MaskedTrainer trainer = new MaskedTrainer(model, mask, MaskedTrainer.Optimizer.ADAM, 1e-3);
            trainer.train(data, 200, 32, 1, TrainListener.NONE);
            System.gc();
            long warm = rssKiB();
            trainer.train(data, 1000, 32, 2, TrainListener.NONE);
            System.gc();
            long after = rssKiB();
            // A leak of one batch per step would be 1000 x 100 KB = 100 MB; allow allocator noise.
            assertTrue(after - warm < 24 * 1024, "RSS grew from " + warm + " KiB to " + after + " KiB over 1000 steps");
        }
    }
}
