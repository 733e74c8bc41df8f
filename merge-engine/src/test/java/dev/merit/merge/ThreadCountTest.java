package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Production-size tensors (a 4.4 MB weight spanning five scheduling chunks): merges give the
 * same bits with 1, 2 and 8 threads, including the scan's sums (clip norms, Krum distances,
 * statistics), the sparse mode equals the dense one on 8 threads, and the result matches the
 * independent numpy computation.
 */
class ThreadCountTest {

    @TempDir
    static Path dir;

    static final List<TensorInfo> LAYOUT = List.of(TensorInfo.of("big.weight", DType.F32, 1100, 1000),
            TensorInfo.of("big.bias", DType.F32, 1100), TensorInfo.of("ids", DType.I64, 4));
    static Path base;
    static final Path[] models = new Path[5];

    @BeforeAll
    static void fixtures() {
        assertTrue(LAYOUT.getFirst().byteSize() > 4 * PassScheduler.CHUNK_ELEMENTS, "the weight spans several chunks");
        base = MergeFixtures.model(dir.resolve("base.safetensors"), LAYOUT, 5);
        for (int i = 0; i < models.length; i++) {
            models[i] = MergeFixtures.perturbed(base, dir.resolve("m" + i + ".safetensors"), 0.6, 40 + i);
        }
    }

    private record Run(byte[] bytes, MergeResult result) {}

    private static Run dense(Strategy s, Map<String, Object> params, int threads) throws Exception {
        Path out = Files.createTempFile(dir, "t" + threads, ".safetensors");
        List<TensorSource> open = new ArrayList<>();
        try {
            TensorSource b = SafetensorsFile.open(base);
            open.add(b);
            Merger.Builder mb = Merger.builder().base(b).strategy(s).parameters(MergeParameters.defaults().with(params))
                    .threads(threads).statistics(true);
            for (int i = 0; i < models.length; i++) {
                TensorSource m = SafetensorsFile.open(models[i]);
                open.add(m);
                mb.input(MergeInput.model("m" + i, m).withWeight(1 + 0.25 * i));
            }
            MergeResult r = mb.build().mergeTo(out);
            return new Run(Files.readAllBytes(out), r);
        } finally {
            open.forEach(TensorSource::close);
        }
    }

    @Test
    void denseMergesAreTheSameOnAnyNumberOfThreads() throws Exception {
        for (var c : List.of(Map.<String, Object>of("clip_norm", 3.0),
                Map.<String, Object>of("byzantine", 1, "clip_norm", 5.0, "clip_scope", "tensor"))) {
            Strategy s = c.containsKey("byzantine") ? Strategy.MULTI_KRUM : Strategy.AVERAGE;
            Run one = dense(s, c, 1);
            for (int threads : new int[] {2, 8}) {
                Run many = dense(s, c, threads);
                assertEquals(one.result().statistics(), many.result().statistics(), s + " statistics with " + threads + " threads");
                assertEquals(one.result().selected(), many.result().selected(), s + " choice with " + threads + " threads");
                assertArrayEquals(one.bytes(), many.bytes(), s + " output with " + threads + " threads");
            }
        }
    }

    @Test
    void largeTensorsMatchNumpy() throws Exception {
        Path out = dir.resolve("avg.safetensors");
        Files.write(out, dense(Strategy.TASK_ARITHMETIC, Map.of("lambda", 0.4), 8).bytes());
        Map<String, Object> spec = new HashMap<>();
        spec.put("base", base.toString());
        spec.put("models", java.util.Arrays.stream(models).map(Path::toString).toList());
        spec.put("kind", "model");
        spec.put("fishers", null);
        spec.put("base_fisher", null);
        spec.put("weights", List.of(1.0, 1.25, 1.5, 1.75, 2.0));
        spec.put("strategy", "task-arithmetic");
        spec.put("params", Map.of("lambda", 0.4));
        MergeFixtures.assertClose(MergeFixtures.reference(dir, spec), out, 2e-5, 2e-5);
    }

    @Test
    void sparseModeEqualsDenseOnEightThreads() throws Exception {
        List<MergeFixtures.Sparse> in = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            in.add(new MergeFixtures.Sparse("s" + i, LAYOUT, 0.02 + 0.04 * i, 60 + i));
        }
        Map<String, Object> params = Map.of("clip_norm", 20.0, "normalize_fishers", true);
        Path dense = dir.resolve("sparse-dense.safetensors");
        MergeResult dr;
        try (TensorSource b = SafetensorsFile.open(base)) {
            dr = sparseBuilder(b, in, params).mergeTo(dense);
        }
        try (TensorSource b = SafetensorsFile.open(base); SafetensorsFile d = SafetensorsFile.open(dense);
             Arena arena = Arena.ofConfined()) {
            SparseMergeResult sr = sparseBuilder(b, in, params).mergeSparse(arena);
            assertEquals(dr.statistics(), sr.statistics());
            for (TensorInfo t : LAYOUT) {
                byte[] merged = b.data(t.name()).asSlice(0, t.byteSize()).toArray(ValueLayout.JAVA_BYTE);
                SparseTensorDelta change = sr.changes().get(t.name());
                if (change != null) {
                    change.applyInPlace(MemorySegment.ofArray(merged));
                }
                byte[] want = d.data(t.name()).asSlice(0, t.byteSize()).toArray(ValueLayout.JAVA_BYTE);
                if (!java.util.Arrays.equals(want, merged)) {
                    fail("tensor '" + t.name() + "': sparse and dense merges differ");
                }
            }
        }
    }

    private static Merger sparseBuilder(TensorSource b, List<MergeFixtures.Sparse> in, Map<String, Object> params) {
        Merger.Builder mb = Merger.builder().base(b).strategy(Strategy.FISHER).threads(8).statistics(true)
                .parameters(MergeParameters.defaults().with(params));
        for (int i = 0; i < in.size(); i++) {
            mb.input(MergeInput.sparse("s" + i, in.get(i)).withWeight(1 + i));
        }
        return mb.build();
    }
}
