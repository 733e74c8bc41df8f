package dev.merit.delta;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ChangeStatsTest {

    @TempDir
    Path dir;

    /** Straightforward per-entry computation through DType, to compare the blocked, parallel one with. */
    static TensorChange reference(TensorPair p) {
        DType dt = p.info().dtype();
        long changed = 0, nonFinite = 0;
        double cs = 0, bs = 0, max = 0;
        for (long i = 0; i < p.info().numel(); i++) {
            double b = dt.getDouble(p.before(), i);
            if (Double.isFinite(b)) {
                bs += b * b;
            }
            if (RandomPairs.bits(p, p.before(), i) != RandomPairs.bits(p, p.after(), i)) {
                changed++;
                double d = dt.getDouble(p.after(), i) - b;
                if (Double.isFinite(d)) {
                    cs += d * d;
                    max = Math.max(max, Math.abs(d));
                } else {
                    nonFinite++;
                }
            }
        }
        return new TensorChange(p.info().name(), p.info().numel(), changed, nonFinite, Math.sqrt(cs), Math.sqrt(bs), max);
    }

    static void assertClose(TensorChange want, TensorChange got) {
        assertEquals(want.name(), got.name());
        assertEquals(want.numel(), got.numel(), want.name());
        assertEquals(want.changed(), got.changed(), want.name());
        assertEquals(want.nonFinite(), got.nonFinite(), want.name());
        assertEquals(want.maxAbsChange(), got.maxAbsChange(), want.name());
        assertEquals(want.changeL2(), got.changeL2(), 1e-12 * (1 + want.changeL2()), want.name());
        assertEquals(want.beforeL2(), got.beforeL2(), 1e-12 * (1 + want.beforeL2()), want.name());
    }

    @Test
    void perTensorFiguresMatchTheReferenceForEveryDtype() {
        try (Arena arena = Arena.ofShared()) {
            List<TensorPair> pairs = RandomPairs.model(arena, 21, true);
            List<TensorChange> got = ChangeStats.compare(pairs);
            for (int t = 0; t < pairs.size(); t++) {
                assertClose(reference(pairs.get(t)), got.get(t));
            }
            TensorPair f32 = pairs.getFirst();
            assertClose(reference(f32), ChangeStats.compare(f32.info(), f32.before(), f32.after()));
        }
    }

    @Test
    void specialValuesAreCountedAsDocumented() {
        try (Arena arena = Arena.ofShared()) {
            // 0.0 -> -0.0 (changed, zero change), 1 -> NaN, NaN -> NaN same bits, -inf -> 2, NaN payload change.
            TensorPair p = RandomPairs.pair(arena, "w", DType.F64, 8, 0, 1, true);
            TensorChange c = ChangeStats.compare(p.info(), p.before(), p.after());
            assertEquals(4, c.changed());
            assertEquals(3, c.nonFinite());
            assertEquals(0, c.changeL2());
            assertEquals(0, c.maxAbsChange());
            assertEquals(0, c.relativeNorm());
            assertEquals(0.5, c.changedFraction());
            assertTrue(Double.isFinite(c.beforeL2()));
        }
    }

    @Test
    void normsAndFractionsOfAKnownChange() {
        try (Arena arena = Arena.ofConfined()) {
            TensorInfo info = TensorInfo.of("w", DType.F32, 2, 2);
            MemorySegment b = arena.allocate(16);
            MemorySegment a = arena.allocate(16);
            float[] before = {3, 4, 0, 0};
            float[] after = {3, 1, 4, 0};
            for (int i = 0; i < 4; i++) {
                DType.F32.setFloat(b, i, before[i]);
                DType.F32.setFloat(a, i, after[i]);
            }
            TensorChange c = ChangeStats.compare(info, b, a);
            assertEquals(2, c.changed());
            assertEquals(0.5, c.changedFraction());
            assertEquals(5, c.changeL2());      // sqrt(3^2 + 4^2)
            assertEquals(5, c.beforeL2());
            assertEquals(1, c.relativeNorm());
            assertEquals(4, c.maxAbsChange());
            TensorChange fromZero = ChangeStats.compare(info, arena.allocate(16), a);
            assertEquals(Double.POSITIVE_INFINITY, fromZero.relativeNorm());
        }
    }

    @Test
    void comparesTwoFilesIncludingAddedRemovedAndRelaidTensors() {
        Path a = TestModels.builder().seed(1)
                .tensor("w", DType.F32, 600, 500).tensor("b", DType.BF16, 40).tensor("gone", DType.I8, 3).tensor("reshaped", DType.F32, 4, 4)
                .write(dir.resolve("a.safetensors"));
        Path same = TestModels.builder().seed(1)
                .tensor("w", DType.F32, 600, 500).tensor("b", DType.BF16, 40).tensor("gone", DType.I8, 3).tensor("reshaped", DType.F32, 4, 4)
                .write(dir.resolve("same.safetensors"));
        Path b = TestModels.builder().seed(1)
                .tensor("w", DType.F32, 600, 500).tensor("b", DType.BF16, 40).tensor("reshaped", DType.F32, 16).tensor("new", DType.U8, 2)
                .write(dir.resolve("b.safetensors"));
        Path c = TestModels.perturb(b, dir.resolve("c.safetensors"), 0.2, 3);
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fs = SafetensorsFile.open(same);
             SafetensorsFile fc = SafetensorsFile.open(c)) {
            ChangeSummary none = ChangeStats.compare(fa, fs);
            assertTrue(none.identical());
            assertEquals(0, none.changed());
            assertEquals(0, none.relativeNorm());

            ChangeSummary s = ChangeStats.compare(fa, fc);
            assertFalse(s.identical());
            assertEquals(List.of("new"), s.added());
            assertEquals(List.of("gone"), s.removed());
            assertEquals(1, s.layoutChanged().size());
            assertEquals("reshaped", s.layoutChanged().getFirst().before().name());
            assertEquals(List.of(16L), java.util.Arrays.stream(s.layoutChanged().getFirst().after().shape()).boxed().toList());
            assertEquals(List.of("w", "b"), s.tensors().stream().map(TensorChange::name).toList());
            double cs = 0, bs = 0, max = 0;
            long changed = 0, numel = 0;
            for (String name : List.of("w", "b")) {
                TensorInfo info = fa.info(name).orElseThrow();
                TensorChange want = reference(new TensorPair(info, fa.data(name), fc.data(name)));
                assertClose(want, s.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow());
                cs += want.changeL2() * want.changeL2();
                bs += want.beforeL2() * want.beforeL2();
                max = Math.max(max, want.maxAbsChange());
                changed += want.changed();
                numel += want.numel();
            }
            assertEquals(changed, s.changed());
            assertEquals(numel, s.numel());
            assertEquals((double) changed / numel, s.changedFraction(), 1e-15);
            assertEquals(Math.sqrt(cs), s.changeL2(), 1e-9);
            assertEquals(Math.sqrt(bs), s.beforeL2(), 1e-9);
            assertEquals(Math.sqrt(cs) / Math.sqrt(bs), s.relativeNorm(), 1e-9);
            assertEquals(max, s.maxAbsChange());
            assertTrue(s.changedFraction() > 0.15 && s.changedFraction() < 0.25, "about the perturbed fraction");
        }
    }
}
