package dev.merit.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.Device;
import dev.merit.safetensors.Safetensors;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.train.data.ShardSpec;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RoundTripTest {

    @TempDir
    Path dir;

    @Test
    void djlToSafetensorsToDjlIsExact() {
        Path file = dir.resolve("trained.safetensors");
        byte[][] before;
        try (MemoryTensors init = ModelSpec.parse("cnn:4").initialize(11);
             Model model = new Model(Network.of(init, Optional.empty()), init, Device.cpu())) {
            // Train a little so the values are not just the initialiser's.
            new MaskedTrainer(model, null, MaskedTrainer.Optimizer.ADAM, 1e-3)
                    .train(ShardSpec.parse("iid:8:0").select(TrainData.train(), 0), 5, 16, 2, TrainListener.NONE);
            try (MemoryTensors snap = model.snapshot("trained")) {
                SafetensorsWriter.write(snap, file);
                before = bytes(snap);
            }
        }
        try (TensorSource loaded = Safetensors.open(file)) {
            assertEquals("cnn:4", loaded.metadata().get(ModelSpec.METADATA_KEY));
            try (Model again = new Model(Network.of(loaded, Optional.empty()), loaded, Device.cpu());
                 MemoryTensors snap = again.snapshot("again")) {
                assertEquals(loaded.tensors().stream().map(TensorInfo::name).toList(),
                        snap.tensors().stream().map(TensorInfo::name).toList());
                byte[][] after = bytes(snap);
                for (int i = 0; i < before.length; i++) {
                    assertArrayEquals(before[i], after[i], "tensor " + i);
                }
            }
        }
    }

    @Test
    void initialisationFollowsPyTorchDefaultsAndIsSeeded() {
        try (MemoryTensors a = ModelSpec.parse("mlp:784-256-128-10").initialize(5);
             MemoryTensors b = ModelSpec.parse("mlp:784-256-128-10").initialize(5)) {
            assertEquals(java.util.List.of("0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"),
                    a.tensors().stream().map(TensorInfo::name).toList());
            assertArrayEquals(bytes(a)[0], bytes(b)[0]);
            // Uniform in [-1/sqrt(fan_in), 1/sqrt(fan_in)]: the bound is approached, never passed.
            double bound = 1 / Math.sqrt(784);
            float max = 0;
            for (long i = 0; i < 256 * 784; i++) {
                max = Math.max(max, Math.abs(a.data("0.weight").getAtIndex(MemoryTensors.F32, i)));
            }
            assertEquals(bound, max, bound * 0.01);
        }
    }

    private static byte[][] bytes(TensorSource s) {
        return s.tensors().stream().map(t -> s.data(t.name()).toArray(ValueLayout.JAVA_BYTE)).toArray(byte[][]::new);
    }
}
