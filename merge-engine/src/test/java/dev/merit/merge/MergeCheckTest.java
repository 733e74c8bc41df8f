package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link MergeCheck} on sparse SET/ADD changes and on whole models, against values worked out by hand. */
class MergeCheckTest {

    @TempDir
    Path dir;

    @Test
    void sparseChangesAndWholeModelsGiveTheSameVerdict() {
        TensorInfo w = TensorInfo.of("w", DType.F32, 2, 3);
        TensorInfo h = TensorInfo.of("h", DType.F16, 4);
        Path base = MergeFixtures.write(dir.resolve("base.safetensors"), List.of(w, h),
                Map.of("w", new float[] {1, 2, 3, 4, 5, 6}, "h", new float[] {1, 1, 1, 1}));
        // w[1] += 3, w[4] -> Infinity (SET), h[2] += 4: tensor norms 3 (w finite part) and 4
        Path merged = MergeFixtures.write(dir.resolve("merged.safetensors"), List.of(w, h),
                Map.of("w", new float[] {1, 5, 3, 4, Float.POSITIVE_INFINITY, 6}, "h", new float[] {1, 1, 5, 1}));
        try (SafetensorsFile b = SafetensorsFile.open(base); SafetensorsFile m = SafetensorsFile.open(merged);
             Arena arena = Arena.ofConfined()) {
            MergeCheck dense = MergeCheck.ofModel(b, m);
            assertEquals(1, dense.nonFinite());
            assertEquals("w[4] = Infinity", dense.firstNonFinite());
            assertTrue(dense.violation(1e300, 1e300).orElseThrow().contains("1 non-finite value (first: w[4] = Infinity)"));

            MemorySegment wp = arena.allocate(16, 8);
            wp.setAtIndex(SparseTensorDelta.POSITION, 0, 1);
            wp.setAtIndex(SparseTensorDelta.POSITION, 1, 4);
            MemorySegment wv = arena.allocate(8, 8);
            wv.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 0, 5f);
            wv.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, 1, Float.POSITIVE_INFINITY);
            MemorySegment hp = arena.allocate(8, 8);
            hp.setAtIndex(SparseTensorDelta.POSITION, 0, 2);
            MemorySegment hv = arena.allocate(4, 8);
            hv.setAtIndex(SparseTensorDelta.ADD_VALUE, 0, 4f);
            MergeCheck sparse = MergeCheck.ofChanges(b, Map.of(
                    "w", new SparseTensorDelta(w, SparseTensorDelta.Semantics.SET, 2, wp, wv),
                    "h", new SparseTensorDelta(h, SparseTensorDelta.Semantics.ADD, 1, hp, hv)));
            assertEquals(1, sparse.nonFinite());
            assertEquals(4.0, sparse.tensorNorms().get("h"), 0);
            assertEquals(4.0, dense.tensorNorms().get("h"), 0);
        }
        Path fine = MergeFixtures.write(dir.resolve("fine.safetensors"), List.of(w, h),
                Map.of("w", new float[] {1, 5, 3, 4, 5, 6}, "h", new float[] {1, 1, 5, 1}));
        try (SafetensorsFile b = SafetensorsFile.open(base); SafetensorsFile m = SafetensorsFile.open(fine)) {
            MergeCheck c = MergeCheck.ofModel(b, m);
            assertTrue(c.finite());
            assertEquals(5.0, c.totalNorm(), 1e-12);
            assertTrue(c.violation(3.5, 10).orElseThrow().contains("tensor 'h' by L2 norm 4.0, above the limit"), c.toString());
            assertTrue(c.violation(4.5, 4.9).orElseThrow().contains("the model by L2 norm 5.0"));
            assertTrue(c.violation(4.5, 5).isEmpty());
        }
    }
}
