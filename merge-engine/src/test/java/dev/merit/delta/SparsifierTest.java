package dev.merit.delta;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Checks every selection rule against a reference that lists and sorts all changes. */
class SparsifierTest {

    @TempDir
    Path dir;

    /** One changed entry as the reference sees it. */
    record Change(int tensor, long pos, double key, double change, boolean bitsOnly) {}

    /** Every entry whose bits differ, with key |after - before| (+inf when not finite), decoded through DType. */
    static List<Change> reference(List<TensorPair> pairs) {
        List<Change> all = new ArrayList<>();
        for (int t = 0; t < pairs.size(); t++) {
            TensorPair p = pairs.get(t);
            DType dt = p.info().dtype();
            for (long i = 0; i < p.info().numel(); i++) {
                if (RandomPairs.bits(p, p.before(), i) != RandomPairs.bits(p, p.after(), i)) {
                    double d = dt.getDouble(p.after(), i) - dt.getDouble(p.before(), i);
                    double key = Double.isFinite(d) ? Math.abs(d) : Double.POSITIVE_INFINITY;
                    all.add(new Change(t, i, key, d, key == 0));
                }
            }
        }
        return all;
    }

    static List<Change> referenceTopK(List<TensorPair> pairs, long k) {
        return reference(pairs).stream().filter(c -> c.key() > 0)
                .sorted(Comparator.comparingDouble(Change::key).reversed()
                        .thenComparingInt(Change::tensor).thenComparingLong(Change::pos))
                .limit(k).toList();
    }

    /** Asserts that the result keeps exactly {@code expected}, with the after values, and the reported totals. */
    static void assertKeeps(List<TensorPair> pairs, List<Change> eligible, List<Change> expected, SparsifyResult r) {
        assertEquals(pairs.size(), r.deltas().size());
        assertEquals(expected.size(), r.kept(), "kept");
        assertEquals(eligible.size(), r.changed(), "changed");
        for (int t = 0; t < pairs.size(); t++) {
            TensorPair p = pairs.get(t);
            SparseTensorDelta d = r.deltas().get(t);
            assertEquals(p.info(), d.info());
            assertEquals(SparseTensorDelta.Semantics.SET, d.semantics());
            int tt = t;
            long[] want = expected.stream().filter(c -> c.tensor() == tt).mapToLong(Change::pos).sorted().toArray();
            long[] got = new long[(int) d.count()];
            for (int i = 0; i < got.length; i++) {
                got[i] = d.position(i);
            }
            assertArrayEquals(want, got, "positions of " + p.info().name());
            int size = p.info().dtype().byteSize();
            for (int i = 0; i < got.length; i++) {
                assertArrayEquals(p.after().asSlice(got[i] * size, size).toArray(ValueLayout.JAVA_BYTE),
                        d.values().asSlice((long) i * size, size).toArray(ValueLayout.JAVA_BYTE),
                        "value at " + got[i] + " of " + p.info().name());
            }
        }
        double total = Math.sqrt(eligible.stream().mapToDouble(Change::change).filter(Double::isFinite).map(x -> x * x).sum());
        double kept = Math.sqrt(expected.stream().mapToDouble(Change::change).filter(Double::isFinite).map(x -> x * x).sum());
        assertEquals(total, r.changeL2(), 1e-9 * (1 + total));
        assertEquals(kept, r.keptL2(), 1e-9 * (1 + kept));
        assertEquals(total == 0 ? 1 : kept / total, r.keptNormFraction(), 1e-9);
    }

    @Test
    void topKMatchesSortingEveryChange() {
        for (long seed = 1; seed <= 4; seed++) {
            try (Arena arena = Arena.ofShared()) {
                List<TensorPair> pairs = RandomPairs.model(arena, seed, seed % 2 == 0);
                List<Change> eligible = reference(pairs).stream().filter(c -> c.key() > 0).toList();
                int n = eligible.size();
                for (long k : new long[] {0, 1, 7, n / 3, n / 2, n - 1, n, n + 1, 10L * n + 5}) {
                    SparsifyResult r = Sparsifier.topK(k).sparsify(pairs, arena);
                    List<Change> want = referenceTopK(pairs, k);
                    assertKeeps(pairs, eligible, want, r);
                    if (!want.isEmpty() && k < n) {
                        assertEquals(want.getLast().key(), r.threshold(), "threshold is the k-th largest |change|");
                    }
                }
            }
        }
    }

    @Test
    void tiesAreBrokenByTensorOrderThenPosition() {
        try (Arena arena = Arena.ofShared()) {
            List<TensorPair> pairs = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                TensorInfo info = TensorInfo.of("t" + t, DType.F32, 1000);
                MemorySegment b = arena.allocate(info.byteSize());
                MemorySegment a = arena.allocate(info.byteSize());
                for (int i = 0; i < 1000; i++) {
                    DType.F32.setFloat(b, i, i);
                    DType.F32.setFloat(a, i, i + (i % 2 == 0 ? 0.5f : -0.5f)); // every |change| is 0.5
                }
                pairs.add(new TensorPair(info, b, a));
            }
            SparsifyResult r = Sparsifier.topK(1500).sparsify(pairs, arena);
            assertEquals(1000, r.deltas().get(0).count());
            assertEquals(500, r.deltas().get(1).count());
            assertEquals(0, r.deltas().get(2).count());
            assertEquals(499, r.deltas().get(1).position(499));
            assertEquals(0.5, r.threshold());
        }
    }

    /**
     * A bucket of exactly tied keys larger than the candidate limit forces all four radix passes;
     * the input lives in a confined arena, which also exercises the single-threaded path.
     */
    @Test
    void hugeTieGroupNeedsEveryRadixPass() {
        long n = Sparsifier.MAX_CANDIDATES + 300_000L;
        try (Arena arena = Arena.ofConfined()) {
            TensorInfo info = TensorInfo.of("big", DType.F32, n);
            MemorySegment b = arena.allocate(info.byteSize());
            MemorySegment a = arena.allocate(info.byteSize());
            for (long i = 0; i < n; i++) {
                DType.F32.setFloat(a, i, i % 1000 == 0 ? 3f : 1f); // change 3 every 1000th, else 1
            }
            List<TensorPair> pairs = List.of(new TensorPair(info, b, a));
            long big = (n + 999) / 1000;
            long k = big + 777_777;
            SparsifyResult r = Sparsifier.topK(k).sparsify(pairs, arena);
            SparseTensorDelta d = r.deltas().getFirst();
            assertEquals(k, d.count());
            assertEquals(1.0, r.threshold());
            // Every change of 3 plus the first ties of 1, in position order.
            long[] want = new long[(int) k];
            int w = 0;
            long tiesLeft = k - big;
            for (long i = 0; i < n; i++) {
                if (i % 1000 == 0) {
                    want[w++] = i;
                } else if (tiesLeft > 0) {
                    want[w++] = i;
                    tiesLeft--;
                }
            }
            long[] got = new long[(int) k];
            for (int i = 0; i < k; i++) {
                got[i] = d.position(i);
            }
            assertArrayEquals(want, got);
        }
    }

    @Test
    void thresholdKeepsStrictlyGreaterChanges() {
        try (Arena arena = Arena.ofShared()) {
            List<TensorPair> pairs = RandomPairs.model(arena, 9, true);
            List<Change> all = reference(pairs);
            List<Change> eligible = all.stream().filter(c -> c.key() > 0).toList();
            for (double t : new double[] {0, 0.25, 0.5, 0.999, 1.0, 3.0, 1e300, Double.POSITIVE_INFINITY}) {
                double tt = t;
                SparsifyResult r = Sparsifier.threshold(t).sparsify(pairs, arena);
                assertKeeps(pairs, eligible, eligible.stream().filter(c -> c.key() > tt).toList(), r);
                assertEquals(t, r.threshold());
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Sparsifier.threshold(-1));
        assertThrows(IllegalArgumentException.class, () -> Sparsifier.threshold(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> Sparsifier.topK(-1));
        assertThrows(IllegalArgumentException.class, () -> Sparsifier.density(1.5));
    }

    @Test
    void nonFiniteChangesRankFirstAndStayOutOfTheNorms() {
        try (Arena arena = Arena.ofShared()) {
            TensorPair p = RandomPairs.pair(arena, "w", DType.F32, 64, 0.5, 3, true);
            List<TensorPair> pairs = List.of(p);
            SparsifyResult r = Sparsifier.topK(3).sparsify(pairs, arena);
            SparseTensorDelta d = r.deltas().getFirst();
            // Entries 1 (1 -> NaN), 3 (-inf -> 2) and 4 (NaN payload change) are the non-finite changes;
            // 0 (0.0 -> -0.0) has a zero change and 2 (same NaN) did not change.
            assertEquals(3, d.count());
            assertEquals(List.of(1L, 3L, 4L), List.of(d.position(0), d.position(1), d.position(2)));
            assertEquals(0, r.keptL2());
            assertEquals(Double.POSITIVE_INFINITY, r.threshold());
            assertTrue(Double.isFinite(r.changeL2()) && r.changeL2() > 0);
        }
    }

    @Test
    void allChangesKeepsEveryBitDifferenceAndRebuildsAfterExactly() {
        try (Arena arena = Arena.ofShared()) {
            List<TensorPair> pairs = RandomPairs.model(arena, 5, true);
            List<Change> all = reference(pairs);
            SparsifyResult r = Sparsifier.allChanges().sparsify(pairs, arena);
            assertKeeps(pairs, all, all, r);
            assertEquals(1.0, r.keptNormFraction(), 1e-12);
            for (int t = 0; t < pairs.size(); t++) {
                TensorPair p = pairs.get(t);
                MemorySegment copy = arena.allocate(p.info().byteSize());
                copy.copyFrom(p.before());
                r.deltas().get(t).applyInPlace(copy);
                assertArrayEquals(p.after().toArray(ValueLayout.JAVA_BYTE), copy.toArray(ValueLayout.JAVA_BYTE), p.info().name());
            }
        }
    }

    @Test
    void applyingTopKGivesAfterAtKeptPositionsAndBeforeElsewhere() {
        try (Arena arena = Arena.ofShared()) {
            List<TensorPair> pairs = RandomPairs.model(arena, 6, true);
            SparsifyResult r = Sparsifier.density(0.05).sparsify(pairs, arena);
            long total = pairs.stream().mapToLong(p -> p.info().numel()).sum();
            assertEquals(Math.round(0.05 * total), r.kept());
            for (int t = 0; t < pairs.size(); t++) {
                TensorPair p = pairs.get(t);
                SparseTensorDelta d = r.deltas().get(t);
                MemorySegment copy = arena.allocate(p.info().byteSize());
                copy.copyFrom(p.before());
                d.applyInPlace(copy);
                java.util.Set<Long> kept = new java.util.HashSet<>();
                for (long i = 0; i < d.count(); i++) {
                    kept.add(d.position(i));
                }
                for (long i = 0; i < p.info().numel(); i++) {
                    MemorySegment want = kept.contains(i) ? p.after() : p.before();
                    assertEquals(RandomPairs.bits(p, want, i), RandomPairs.bits(p, copy, i), p.info().name() + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void sparsifiesTwoFilesAndRefusesDifferentLayouts() {
        Path a = TestModels.builder().seed(1).tensor("w", DType.F32, 300, 40).tensor("b", DType.BF16, 40).write(dir.resolve("a.safetensors"));
        Path b = TestModels.perturb(a, dir.resolve("b.safetensors"), 0.1, 2);
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fb = SafetensorsFile.open(b); Arena arena = Arena.ofConfined()) {
            SparsifyResult r = Sparsifier.topK(100).sparsify(fa, fb, arena);
            assertEquals(100, r.kept());
            List<TensorPair> pairs = fa.tensors().stream()
                    .map(t -> new TensorPair(t, fa.data(t.name()), fb.data(t.name()))).toList();
            assertKeeps(pairs, reference(pairs).stream().filter(c -> c.key() > 0).toList(), referenceTopK(pairs, 100), r);
        }
        Path c = TestModels.builder().tensor("w", DType.F32, 300, 41).tensor("b", DType.BF16, 40).write(dir.resolve("c.safetensors"));
        Path d = TestModels.builder().tensor("w", DType.F32, 300, 40).write(dir.resolve("d.safetensors"));
        try (SafetensorsFile fa = SafetensorsFile.open(a); SafetensorsFile fc = SafetensorsFile.open(c);
             SafetensorsFile fd = SafetensorsFile.open(d); Arena arena = Arena.ofConfined()) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> Sparsifier.topK(1).sparsify(fa, fc, arena));
            assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains(c.toString()), e.getMessage());
            e = assertThrows(InvalidInputException.class, () -> Sparsifier.topK(1).sparsify(fa, fd, arena));
            assertTrue(e.getMessage().contains("'b'"), e.getMessage());
            e = assertThrows(InvalidInputException.class, () -> Sparsifier.topK(1).sparsify(fd, fa, arena));
            assertTrue(e.getMessage().contains("'b'"), e.getMessage());
        }
    }

    @Test
    void resultDoesNotDependOnBlockBoundaries() {
        // Many tied changes spread over several blocks of one tensor: the ties kept are the first ones.
        long n = 3 * Blocks.BLOCK + 123;
        try (Arena arena = Arena.ofShared()) {
            TensorInfo info = TensorInfo.of("w", DType.BF16, n);
            MemorySegment b = arena.allocate(info.byteSize());
            MemorySegment a = arena.allocate(info.byteSize());
            for (long i = 0; i < n; i++) {
                DType.BF16.setFloat(a, i, i % 3 == 0 ? 0 : (i % 7 == 0 ? -2f : 2f));
            }
            List<TensorPair> pairs = List.of(new TensorPair(info, b, a));
            long k = n / 2;
            SparsifyResult r = Sparsifier.topK(k).sparsify(pairs, arena);
            List<Change> want = referenceTopK(pairs, k);
            assertKeeps(pairs, reference(pairs).stream().filter(c -> c.key() > 0).toList(), want, r);
        }
    }
}
