package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sparse deltas (ADD, with Fisher on their support) and F16/BF16 storage, against the numpy oracle. */
class SparseAndDTypeTest {

    @TempDir
    static Path dir;
    static Path base;
    static final List<MergeFixtures.Sparse> sparse = new ArrayList<>();
    static final List<Path[]> dense = new ArrayList<>();
    static final double[] WEIGHTS = {1.0, 2.0, 0.5};

    @BeforeAll
    static void fixtures() {
        List<TensorInfo> layout = MergeFixtures.layout(DType.F32);
        base = MergeFixtures.model(dir.resolve("base.safetensors"), layout, 5);
        for (int i = 0; i < 3; i++) {
            MergeFixtures.Sparse s = new MergeFixtures.Sparse("s" + i, layout, 0.3, 40 + i);
            sparse.add(s);
            dense.add(s.writeDense(dir));
        }
    }

    static Path check(Strategy s, Map<String, Object> params, int blockSize) throws Exception {
        Path out = Files.createTempFile(dir, "merged", ".safetensors");
        try (TensorSource b = SafetensorsFile.open(base)) {
            Merger.Builder mb = Merger.builder().base(b).strategy(s).parameters(MergeParameters.defaults().with(params))
                    .blockSize(blockSize);
            for (int i = 0; i < sparse.size(); i++) {
                mb.input(MergeInput.sparse("s" + i, sparse.get(i)).withWeight(WEIGHTS[i]));
            }
            mb.build().mergeTo(out);
        }
        Map<String, Object> spec = new HashMap<>();
        spec.put("base", base.toString());
        spec.put("models", dense.stream().map(p -> p[0].toString()).toList());
        spec.put("masks", dense.stream().map(p -> p[1].toString()).toList());
        spec.put("fishers", dense.stream().map(p -> p[2].toString()).toList());
        spec.put("kind", "delta");
        spec.put("weights", List.of(WEIGHTS[0], WEIGHTS[1], WEIGHTS[2]));
        spec.put("strategy", s.id());
        spec.put("params", params);
        MergeFixtures.assertClose(MergeFixtures.reference(dir, spec), out, 2e-5, 2e-5);
        return out;
    }

    @Test
    void sparseAverageOverAllAndOverTouchedDiffer() throws Exception {
        Path all = check(Strategy.AVERAGE, Map.of("average_over", "all"), 1000);
        Path touched = check(Strategy.AVERAGE, Map.of("average_over", "touched"), Merger.DEFAULT_BLOCK_SIZE);
        assertTrue(Files.mismatch(all, touched) >= 0);
    }

    @Test
    void sparseFisherUsesOnlyTouchingInputs() throws Exception {
        check(Strategy.FISHER, Map.of(), 1000);
        check(Strategy.FISHER, Map.of("normalize_fishers", true, "fisher_floor", 0.01), Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void sparseTiesTaskArithmeticDareMedian() throws Exception {
        check(Strategy.TIES, Map.of("density", 0.1), 2000);
        check(Strategy.TASK_ARITHMETIC, Map.of("lambda", 0.5), Merger.DEFAULT_BLOCK_SIZE);
        check(Strategy.DARE, Map.of("drop_rate", 0.3, "seed", 11), 1500);
        check(Strategy.MEDIAN, Map.of("average_over", "touched"), Merger.DEFAULT_BLOCK_SIZE);
        check(Strategy.TRIMMED_MEAN, Map.of("average_over", "all", "beta", 0.34), Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void sparseTensorsAreReleasedAfterUse() throws Exception {
        check(Strategy.AVERAGE, Map.of(), Merger.DEFAULT_BLOCK_SIZE);
        assertEquals(sparse.getFirst().tensorNames(), sparse.getFirst().released);
    }

    /** F16 and BF16 inputs, accumulated in float32, written back rounded to the storage type. */
    @Test
    void halfPrecisionInputsAndOutputs() throws Exception {
        for (DType in : List.of(DType.F16, DType.BF16)) {
            List<TensorInfo> layout = MergeFixtures.layout(in);
            Path b = MergeFixtures.model(dir.resolve(in + "base.safetensors"), layout, 7);
            Path m0 = MergeFixtures.perturbed(b, dir.resolve(in + "m0.safetensors"), 0.5, 8);
            Path m1 = MergeFixtures.perturbed(b, dir.resolve(in + "m1.safetensors"), 0.5, 9);
            Path f0 = MergeFixtures.fisher(dir.resolve(in + "f0.safetensors"), layout, in, 1);
            Path f1 = MergeFixtures.fisher(dir.resolve(in + "f1.safetensors"), layout, DType.F32, 2);
            for (DType out : new DType[] {null, DType.F32, DType.BF16}) {
                Path o = Files.createTempFile(dir, "half", ".safetensors");
                try (TensorSource bs = SafetensorsFile.open(b); TensorSource a = SafetensorsFile.open(m0);
                     TensorSource c = SafetensorsFile.open(m1); TensorSource fa = SafetensorsFile.open(f0);
                     TensorSource fc = SafetensorsFile.open(f1)) {
                    Merger.builder().base(bs).input(MergeInput.model("a", a).withFisher(fa))
                            .input(MergeInput.model("c", c).withWeight(0.5).withFisher(fc))
                            .strategy(Strategy.FISHER).outputDType(out).build().mergeTo(o);
                }
                DType written = out == null ? in : out;
                try (SafetensorsFile f = SafetensorsFile.open(o)) {
                    assertEquals(written, f.info("a.weight").orElseThrow().dtype());
                }
                Map<String, Object> spec = new HashMap<>();
                spec.put("base", b.toString());
                spec.put("models", List.of(m0.toString(), m1.toString()));
                spec.put("fishers", List.of(f0.toString(), f1.toString()));
                spec.put("kind", "model");
                spec.put("weights", List.of(1.0, 0.5));
                spec.put("strategy", "fisher");
                spec.put("params", Map.of());
                // one rounding to the output type: half an ulp, relative
                double rtol = written == DType.BF16 ? 0x1p-8 : written == DType.F16 ? 0x1p-11 : 1e-5;
                MergeFixtures.assertClose(MergeFixtures.reference(dir, spec), o, 1e-6, rtol);
            }
        }
    }
}
