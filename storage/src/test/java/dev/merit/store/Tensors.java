package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.safetensors.Safetensors;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/** Assertions on tensor files shared by the store's tests. */
final class Tensors {

    private Tensors() {}

    /** Same tensor names in the same order, same dtypes, shapes and bytes, same metadata. */
    static void assertSameTensors(Path expected, Path actual) {
        try (TensorSource e = Safetensors.open(expected); TensorSource a = Safetensors.open(actual)) {
            assertEquals(e.tensors(), a.tensors(), "tensor layout");
            assertEquals(e.metadata(), a.metadata(), "metadata");
            for (TensorInfo t : e.tensors()) {
                long m = MemorySegment.mismatch(e.data(t.name()), 0, t.byteSize(), a.data(t.name()), 0, t.byteSize());
                if (m >= 0) {
                    fail("tensor '" + t.name() + "' differs at byte " + m);
                }
            }
        }
    }
}
