package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every strategy against the independent numpy oracle (merge_reference.py) on random dense inputs. */
class StrategyReferenceTest {

    @TempDir
    static Path dir;
    static Path base;
    static final Path[] models = new Path[5];
    static final Path[] fishers = new Path[5];
    static Path baseFisher;
    static final double[] WEIGHTS = {1.0, 0.5, 2.0, 1.0, 0.75};

    @BeforeAll
    static void fixtures() {
        List<TensorInfo> layout = MergeFixtures.layout(DType.F32);
        base = MergeFixtures.model(dir.resolve("base.safetensors"), layout, 1);
        for (int i = 0; i < models.length; i++) {
            // the last model changes every entry: Krum should notice it
            models[i] = MergeFixtures.perturbed(base, dir.resolve("m" + i + ".safetensors"), i == 4 ? 1.0 : 0.4, 10 + i);
            fishers[i] = MergeFixtures.fisher(dir.resolve("f" + i + ".safetensors"), layout, i == 1 ? DType.BF16 : DType.F32, 20 + i);
        }
        baseFisher = MergeFixtures.fisher(dir.resolve("fbase.safetensors"), layout, DType.F32, 30);
    }

    /** Merges the first {@code count} models with Merit and with numpy, then compares. */
    static Path check(Strategy s, Map<String, Object> params, boolean withBase, int count, boolean fisher,
                      boolean baseFisherFile, int blockSize) throws Exception {
        Path out = Files.createTempFile(dir, "merged", ".safetensors");
        List<TensorSource> open = new ArrayList<>();
        try {
            Merger.Builder b = Merger.builder().strategy(s).parameters(MergeParameters.defaults().with(params))
                    .blockSize(blockSize).threads(2);
            if (withBase) {
                b.base(track(open, SafetensorsFile.open(base)));
            }
            if (baseFisherFile) {
                b.baseFisher(track(open, SafetensorsFile.open(baseFisher)));
            }
            for (int i = 0; i < count; i++) {
                MergeInput in = MergeInput.model("m" + i, track(open, SafetensorsFile.open(models[i]))).withWeight(WEIGHTS[i]);
                if (fisher) {
                    in = in.withFisher(track(open, SafetensorsFile.open(fishers[i])));
                }
                b.input(in);
            }
            b.build().mergeTo(out);
        } finally {
            open.forEach(TensorSource::close);
        }
        Map<String, Object> spec = new HashMap<>();
        spec.put("base", withBase ? base.toString() : null);
        spec.put("models", Arrays.stream(models).limit(count).map(Path::toString).toList());
        spec.put("kind", "model");
        spec.put("fishers", fisher ? Arrays.stream(fishers).limit(count).map(Path::toString).toList() : null);
        spec.put("base_fisher", baseFisherFile ? baseFisher.toString() : null);
        spec.put("weights", Arrays.stream(WEIGHTS).limit(count).boxed().toList());
        spec.put("strategy", s.id());
        spec.put("params", params);
        MergeFixtures.assertClose(MergeFixtures.reference(dir, spec), out, 2e-5, 2e-5);
        if (withBase) {
            assertEquals(Arrays.toString(MergeFixtures.read(base, "ids")), Arrays.toString(MergeFixtures.read(out, "ids")),
                    "integer tensors are copied from the base");
        }
        return out;
    }

    static TensorSource track(List<TensorSource> open, TensorSource s) {
        open.add(s);
        return s;
    }

    @Test
    void averageOfModelsWithoutBase() throws Exception {
        check(Strategy.AVERAGE, Map.of(), false, 4, false, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void averageWithBaseStepSizeAndSmallBlocks() throws Exception {
        check(Strategy.AVERAGE, Map.of("step_size", 0.5), true, 3, false, false, 777);
    }

    @Test
    void fisherWithFloor() throws Exception {
        check(Strategy.FISHER, Map.of("fisher_floor", 1e-6), true, 4, true, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void fisherWithoutBase() throws Exception {
        check(Strategy.FISHER, Map.of(), false, 3, true, false, 1000);
    }

    @Test
    void fisherNormalizedFavoringBaseFile() throws Exception {
        check(Strategy.FISHER, Map.of("normalize_fishers", true, "favor_base", true, "base_weight", 2.0),
                true, 3, true, true, 1000);
    }

    @Test
    void fisherFavorBaseConstantWithLargeFloor() throws Exception {
        // A floor above most Fisher values makes most entries a plain weighted average that includes the base.
        check(Strategy.FISHER, Map.of("favor_base", true, "base_fisher_value", 0.25, "fisher_floor", 0.5),
                true, 4, true, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void taskArithmetic() throws Exception {
        check(Strategy.TASK_ARITHMETIC, Map.of("lambda", 0.7), true, 4, false, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void tiesOneBlockAndRadixSelectPathsBothMatch() throws Exception {
        Path sorted = check(Strategy.TIES, Map.of("density", 0.3, "lambda", 1.2), true, 4, false, false, 1 << 20);
        Path radix = check(Strategy.TIES, Map.of("density", 0.3, "lambda", 1.2), true, 4, false, false, 500);
        assertEquals(-1, Files.mismatch(sorted, radix), "thresholds must not depend on the block size");
    }

    @Test
    void dareMatchesSeededOracle() throws Exception {
        check(Strategy.DARE, Map.of("drop_rate", 0.5, "seed", 7, "lambda", 0.9), true, 4, false, false, 999);
    }

    @Test
    void medianEvenCount() throws Exception {
        check(Strategy.MEDIAN, Map.of(), true, 4, false, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void trimmedMean() throws Exception {
        check(Strategy.TRIMMED_MEAN, Map.of("beta", 0.2), true, 5, false, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void krumAndMultiKrum() throws Exception {
        check(Strategy.KRUM, Map.of("byzantine", 1), true, 5, false, false, Merger.DEFAULT_BLOCK_SIZE);
        check(Strategy.MULTI_KRUM, Map.of("byzantine", 1, "select", 3), true, 5, false, false, 3000);
        check(Strategy.MULTI_KRUM, Map.of(), false, 5, false, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void clipModelScopeBeforeAverage() throws Exception {
        check(Strategy.AVERAGE, Map.of("clip_norm", 1.0), true, 4, false, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void clipTensorScopeBeforeTaskArithmetic() throws Exception {
        check(Strategy.TASK_ARITHMETIC, Map.of("clip_norm", 0.5, "clip_scope", "tensor"), true, 3, false, false, 4000);
    }

    @Test
    void clipBeforeKrum() throws Exception {
        check(Strategy.KRUM, Map.of("clip_norm", 1.5, "byzantine", 1), true, 5, false, false, Merger.DEFAULT_BLOCK_SIZE);
    }

    @Test
    void resultDoesNotDependOnThreadsOrBlockSize() throws Exception {
        Path a = dir.resolve("t1.safetensors");
        Path b = dir.resolve("t2.safetensors");
        try (TensorSource bs = SafetensorsFile.open(base); TensorSource m0 = SafetensorsFile.open(models[0]);
             TensorSource m1 = SafetensorsFile.open(models[1])) {
            for (Path out : List.of(a, b)) {
                boolean first = out == a;
                Merger.builder().base(bs).input(MergeInput.model("0", m0)).input(MergeInput.model("1", m1).withWeight(3))
                        .strategy(Strategy.AVERAGE).threads(first ? 1 : 2).blockSize(first ? 100 : 5000)
                        .build().mergeTo(out);
            }
        }
        assertEquals(-1, Files.mismatch(a, b));
    }

    @Test
    void progressReportsEveryTensorAndAllBytes() {
        AtomicInteger calls = new AtomicInteger();
        long[] last = new long[2];
        try (TensorSource bs = SafetensorsFile.open(base); TensorSource m0 = SafetensorsFile.open(models[0])) {
            MergeResult r = Merger.builder().base(bs).input(MergeInput.model("0", m0)).strategy(Strategy.AVERAGE)
                    .progress(p -> {
                        calls.incrementAndGet();
                        synchronized (last) {
                            last[0] = Math.max(last[0], p.bytesDone());
                            last[1] = p.bytesTotal();
                        }
                    }).build().mergeTo(dir.resolve("progress.safetensors"));
            assertEquals(4, calls.get());
            assertEquals(last[1], last[0]);
            assertEquals(r.bytes(), last[1]);
        }
    }

    @Test
    void dareIsReproducibleAndSeedMatters() throws Exception {
        Path a = check(Strategy.DARE, Map.of("drop_rate", 0.8, "seed", 3), true, 2, false, false, 1000);
        Path b = check(Strategy.DARE, Map.of("drop_rate", 0.8, "seed", 3), true, 2, false, false, 4096);
        Path c = check(Strategy.DARE, Map.of("drop_rate", 0.8, "seed", 4), true, 2, false, false, 1000);
        assertEquals(-1, Files.mismatch(a, b));
        assertNotEquals(-1, Files.mismatch(a, c));
        // With one input and p = 0.8, about 80% of its changed entries are dropped back to the base.
        float[] bs = MergeFixtures.read(base, "b.weight");
        float[] m = MergeFixtures.read(models[0], "b.weight");
        float[] r = MergeFixtures.read(check(Strategy.DARE, Map.of("drop_rate", 0.8, "seed", 3), true, 1, false, false, 1000), "b.weight");
        int changed = 0;
        int kept = 0;
        for (int i = 0; i < bs.length; i++) {
            if (m[i] != bs[i]) {
                changed++;
                kept += r[i] != bs[i] ? 1 : 0;
            }
        }
        double keptFraction = (double) kept / changed;
        assertTrue(Math.abs(keptFraction - 0.2) < 0.03, "kept " + keptFraction);
    }
}
