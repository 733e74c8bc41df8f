package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Merger#mergeSparse} against {@link Merger#mergeTo(Path)} on the same inputs: the base
 * plus the sparse result's SET deltas must equal the dense output bit for bit, for every
 * strategy, ADD and SET inputs, clipping, Fisher options, per-tensor rules and storage dtypes.
 * Both scans sum per chunk in block order, so thread counts do not matter ({@link ThreadCountTest}).
 */
class SparseMergeTest {

    @TempDir
    Path dir;

    /** Three sparse inputs of different densities on {@code dt}; the second stores SET values. */
    private record Fixture(Path base, List<SparseDeltaSource> inputs, List<TensorInfo> layout) {}

    private Fixture fixture(DType dt) {
        List<TensorInfo> layout = MergeFixtures.layout(dt);
        Path base = MergeFixtures.model(dir.resolve(dt + "-base.safetensors"), layout, 3);
        List<SparseDeltaSource> in = new ArrayList<>();
        double[] density = {0.05, 0.2, 0.01};
        for (int i = 0; i < 3; i++) {
            MergeFixtures.Sparse s = new MergeFixtures.Sparse("s" + i, layout, density[i], 70 + i);
            in.add(i == 1 ? asSet(s, base) : s);
        }
        // the third input leaves "a.bias" alone, so a tensor is touched by only some inputs
        ((MergeFixtures.Sparse) in.get(2)).deltas.remove("a.bias");
        return new Fixture(base, in, layout);
    }

    /** The same change as SET values in the tensor's dtype (base + d, rounded once). */
    private static SparseDeltaSource asSet(MergeFixtures.Sparse add, Path basePath) {
        Map<String, SparseTensorDelta> set = new HashMap<>();
        try (SafetensorsFile base = SafetensorsFile.open(basePath)) {
            for (Map.Entry<String, SparseTensorDelta> e : add.deltas.entrySet()) {
                SparseTensorDelta d = e.getValue();
                DType dt = d.info().dtype();
                MemorySegment v = add.arena.allocate(Math.max(1, d.count() * dt.byteSize()), 8);
                for (long k = 0; k < d.count(); k++) {
                    float b = dt.getFloat(base.data(e.getKey()), d.position(k));
                    dt.setFloat(v, k, b + d.values().getAtIndex(SparseTensorDelta.ADD_VALUE, k));
                }
                set.put(e.getKey(), new SparseTensorDelta(d.info(), SparseTensorDelta.Semantics.SET, d.count(), d.positions(), v));
            }
        }
        return new SparseDeltaSource() {
            @Override
            public Set<String> tensorNames() {
                return set.keySet();
            }

            @Override
            public Optional<SparseTensorDelta> delta(String tensor) {
                return Optional.ofNullable(set.get(tensor));
            }

            @Override
            public Optional<MemorySegment> fisher(String tensor) {
                return add.fisher(tensor);
            }

            @Override
            public boolean hasFisher() {
                return true;
            }

            @Override
            public String describe() {
                return "set " + add.describe();
            }
        };
    }

    private Merger.Builder builder(Fixture f, TensorSource base, Strategy s, Map<String, Object> params, int blockSize) {
        Merger.Builder b = Merger.builder().base(base).strategy(s).parameters(MergeParameters.defaults().with(params))
                .blockSize(blockSize);
        double[] w = {1.0, 2.0, 0.5};
        for (int i = 0; i < f.inputs().size(); i++) {
            b.input(MergeInput.sparse("s" + i, f.inputs().get(i)).withWeight(w[i]));
        }
        return b;
    }

    /** Runs both paths and compares; returns the sparse result. */
    private SparseMergeResult same(Fixture f, Strategy s, Map<String, Object> params, int blockSize,
                                   java.util.function.UnaryOperator<Merger.Builder> extra) throws Exception {
        Path dense = Files.createTempFile(dir, "dense", ".safetensors");
        MergeResult denseResult;
        try (TensorSource base = SafetensorsFile.open(f.base())) {
            denseResult = extra.apply(builder(f, base, s, params, blockSize)).threads(1).statistics(true).build().mergeTo(dense);
        }
        try (TensorSource base = SafetensorsFile.open(f.base()); SafetensorsFile out = SafetensorsFile.open(dense);
             Arena arena = Arena.ofConfined()) {
            Merger m = extra.apply(builder(f, base, s, params, blockSize)).threads(2).statistics(true).build();
            assertTrue(m.supportsSparse());
            SparseMergeResult r = m.mergeSparse(arena);
            String what = s.id() + " " + params;
            assertEquals(denseResult.statistics(), r.statistics(), what + ": statistics");
            assertEquals(denseResult.selected(), r.selected(), what + ": Krum's choice");
            for (TensorInfo t : f.layout()) {
                compare(what, t, base.data(t.name()), out.data(t.name()), r.changes().get(t.name()), union(f, t.name()));
            }
            return r;
        }
    }

    private static Set<Long> union(Fixture f, String tensor) {
        Set<Long> u = new TreeSet<>();
        for (SparseDeltaSource in : f.inputs()) {
            in.delta(tensor).ifPresent(d -> {
                for (long k = 0; k < d.count(); k++) {
                    u.add(d.position(k));
                }
            });
        }
        return u;
    }

    /**
     * base + change == dense output, bit for bit; F64 entries outside the union are skipped
     * (the dense path rounds them through float32, the sparse one leaves them alone).
     */
    private static void compare(String what, TensorInfo t, MemorySegment base, MemorySegment dense, SparseTensorDelta change,
                                Set<Long> union) {
        int es = t.dtype().byteSize();
        byte[] expected = base.asSlice(0, t.byteSize()).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        MemorySegment merged = MemorySegment.ofArray(expected);
        if (change != null) {
            assertTrue(t.dtype().isFloatingPoint(), what + ": integer tensor '" + t.name() + "' changed");
            assertEquals(SparseTensorDelta.Semantics.SET, change.semantics());
            for (long k = 0; k < change.count(); k++) {
                assertTrue(union.contains(change.position(k)), what + ": " + t.name() + " changed outside the inputs' support");
                if (k > 0 && change.position(k) <= change.position(k - 1)) {
                    fail(what + ": positions not ascending");
                }
            }
            change.applyInPlace(merged);
        }
        for (long j = 0; j < t.numel(); j++) {
            if (t.dtype() == DType.F64 && !union.contains(j)) {
                continue;
            }
            if (MemorySegment.mismatch(merged, j * es, (j + 1) * es, dense, j * es, (j + 1) * es) >= 0) {
                fail(what + ": tensor '" + t.name() + "' entry " + j + ": sparse " + t.dtype().getDouble(merged, j)
                        + " dense " + t.dtype().getDouble(dense, j) + (union.contains(j) ? "" : " (outside the union)"));
            }
        }
    }

    @Test
    void everyStrategyMatchesTheDensePath() throws Exception {
        Fixture f = fixture(DType.F32);
        var none = (java.util.function.UnaryOperator<Merger.Builder>) b -> b;
        same(f, Strategy.AVERAGE, Map.of(), 1000, none);
        same(f, Strategy.AVERAGE, Map.of("average_over", "touched", "step_size", 0.7), Merger.DEFAULT_BLOCK_SIZE, none);
        same(f, Strategy.FISHER, Map.of(), 1000, none);
        same(f, Strategy.FISHER, Map.of("normalize_fishers", true, "fisher_floor", 0.01), Merger.DEFAULT_BLOCK_SIZE, none);
        same(f, Strategy.FISHER, Map.of("favor_base", true, "base_fisher_value", 0.5, "base_weight", 2.0), 1000, none);
        same(f, Strategy.TASK_ARITHMETIC, Map.of("lambda", 0.5), 777, none);
        // small blocks: TIES takes the radix-select path for every tensor; default blocks: the sort path for small ones
        same(f, Strategy.TIES, Map.of("density", 0.1), 1000, none);
        same(f, Strategy.TIES, Map.of("density", 0.02, "lambda", 1.5), Merger.DEFAULT_BLOCK_SIZE, none);
        same(f, Strategy.DARE, Map.of("drop_rate", 0.3, "seed", 11), 1500, none);
        same(f, Strategy.MEDIAN, Map.of(), Merger.DEFAULT_BLOCK_SIZE, none);
        same(f, Strategy.MEDIAN, Map.of("average_over", "touched"), 1000, none);
        same(f, Strategy.TRIMMED_MEAN, Map.of("beta", 0.34), 1000, none);
        same(f, Strategy.TRIMMED_MEAN, Map.of("beta", 0.34, "average_over", "touched"), 1000, none);
        same(f, Strategy.BASE, Map.of(), 1000, none);
    }

    @Test
    void krumAndClippingUseNormsFromTheSupports() throws Exception {
        Fixture f = fixture(DType.F32);
        var none = (java.util.function.UnaryOperator<Merger.Builder>) b -> b;
        same(f, Strategy.AVERAGE, Map.of("clip_norm", 0.5), 1000, none);
        same(f, Strategy.FISHER, Map.of("clip_norm", 0.3, "clip_scope", "tensor"), Merger.DEFAULT_BLOCK_SIZE, none);
        SparseMergeResult krum = same(f, Strategy.KRUM, Map.of("byzantine", 0), 1000, none);
        assertEquals(1, krum.selected().get("*").size());
        same(f, Strategy.MULTI_KRUM, Map.of("byzantine", 0, "select", 2, "clip_norm", 1.0), 1000, none);
    }

    @Test
    void perTensorRulesAndIntegerTensors() throws Exception {
        Fixture f = fixture(DType.F32);
        SparseMergeResult r = same(f, Strategy.FISHER, Map.of(), 1000, b -> b
                .rule("*.bias", Strategy.AVERAGE, MergeParameters.defaults())
                .rule("b.*", Strategy.BASE, MergeParameters.defaults()));
        assertFalse(r.changes().containsKey("b.weight"), "a tensor kept by the 'base' rule has no change");
        assertFalse(r.changes().containsKey("ids"));
        assertTrue(r.changes().containsKey("a.weight"));
        assertTrue(r.changed() <= r.positions());
        long union = union(f, "a.weight").size() + union(f, "a.bias").size() + union(f, "b.weight").size();
        assertEquals(union, r.positions(), "merged entries are the unions of the supports");
    }

    @Test
    void halfAndDoublePrecisionTensors() throws Exception {
        var none = (java.util.function.UnaryOperator<Merger.Builder>) b -> b;
        for (DType dt : List.of(DType.F16, DType.BF16, DType.F64)) {
            Fixture f = fixture(dt);
            same(f, Strategy.AVERAGE, Map.of("average_over", "touched"), 1000, none);
            same(f, Strategy.FISHER, Map.of("normalize_fishers", true), 1000, none);
            same(f, Strategy.TIES, Map.of("density", 0.1), 1000, none);
        }
    }

    @Test
    void denseInputsOrADTypeChangeFallBack() throws Exception {
        Fixture f = fixture(DType.F32);
        try (TensorSource base = SafetensorsFile.open(f.base()); Arena arena = Arena.ofConfined()) {
            Merger withModel = builder(f, base, Strategy.AVERAGE, Map.of(), 1000).input(MergeInput.model("m", base)).build();
            assertFalse(withModel.supportsSparse());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> withModel.mergeSparse(arena));
            assertTrue(e.getMessage().contains("input 'm'"), e.getMessage());
            assertFalse(builder(f, base, Strategy.AVERAGE, Map.of(), 1000).outputDType(DType.BF16).build().supportsSparse());
        }
    }
}
