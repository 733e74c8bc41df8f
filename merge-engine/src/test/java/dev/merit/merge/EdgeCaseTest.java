package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hand-worked cases: each expected value is computed on paper in the comment beside it. */
class EdgeCaseTest {

    @TempDir
    Path dir;

    private Path file(String name, float... v) {
        return MergeFixtures.write(dir.resolve(name + ".safetensors"), List.of(TensorInfo.of("w", DType.F32, v.length)), Map.of("w", v));
    }

    private float[] merge(Strategy s, Map<String, Object> params, Path base, Path baseFisher, Path[] models, Path[] fishers, double... weights) {
        List<TensorSource> open = new ArrayList<>();
        Path out = dir.resolve("out-" + System.nanoTime() + ".safetensors");
        try {
            Merger.Builder b = Merger.builder().strategy(s).parameters(MergeParameters.defaults().with(params));
            if (base != null) {
                open.add(SafetensorsFile.open(base));
                b.base(open.getLast());
            }
            if (baseFisher != null) {
                open.add(SafetensorsFile.open(baseFisher));
                b.baseFisher(open.getLast());
            }
            for (int i = 0; i < models.length; i++) {
                open.add(SafetensorsFile.open(models[i]));
                MergeInput in = MergeInput.model("m" + i, open.getLast()).withWeight(weights.length > i ? weights[i] : 1);
                if (fishers != null) {
                    open.add(SafetensorsFile.open(fishers[i]));
                    in = in.withFisher(open.getLast());
                }
                b.input(in);
            }
            b.build().mergeTo(out);
        } finally {
            open.forEach(TensorSource::close);
        }
        return MergeFixtures.read(out, "w");
    }

    @Test
    void fisherFloorTurnsZeroFisherIntoWeightedAverage() {
        // F = 0 everywhere for both models: the floor makes both Fishers equal, so the result is
        // the lambda-weighted mean: (1*2 + 3*6) / 4 = 5 and (1*(-4) + 3*0) / 4 = -1.
        Path[] m = {file("a", 2, -4), file("b", 6, 0)};
        Path[] f = {file("fa", 0, 0), file("fb", 0, 0)};
        assertArrayEquals(new float[] {5, -1}, merge(Strategy.FISHER, Map.of(), null, null, m, f, 1, 3), 1e-5f);
    }

    @Test
    void fisherWithZeroFloorAndZeroFisherKeepsBase() {
        // floor 0 and no Fisher anywhere: nobody has an opinion, the entry stays at the base (10).
        // second entry: F = (1, 3) -> (1*12 + 3*14)/4 = 13.5 as a change of +3.5 on the base 10.
        Path[] m = {file("a", 11, 12), file("b", 13, 14)};
        Path[] f = {file("fa", 0, 1), file("fb", 0, 3)};
        assertArrayEquals(new float[] {10, 13.5f},
                merge(Strategy.FISHER, Map.of("fisher_floor", 0.0), file("base", 10, 10), null, m, f));
    }

    @Test
    void favorBaseWeighsTheBaseByItsFisher() {
        // base 0 with F0 = 3, model 8 with F = 1: (3*0 + 1*8) / (3 + 1) = 2.
        // second entry, base F0 = 0 raised to the floor 1e-6: ~ the model's 4.
        float[] r = merge(Strategy.FISHER, Map.of("favor_base", true), file("base", 0, 0), file("fbase", 3, 0),
                new Path[] {file("a", 8, 4)}, new Path[] {file("fa", 1, 1)});
        assertEquals(2f, r[0], 1e-6);
        assertEquals(4f, r[1], 1e-4);
    }

    @Test
    void tiesTrimsElectsAndAveragesAgreeingEntries() {
        // changes against base 0 (density 0.5 keeps the 2 largest |d| of each 4-entry input):
        //   a = ( 3, -1,  2, -5) -> trimmed ( 3, 0, 0, -5)
        //   b = (-1,  4,  1,  6) -> trimmed ( 0, 4, 0,  6)
        //   c = ( 2, -3, -7,  1) -> trimmed ( 0,-3,-7,  0)
        // mass (weights 1): (3, 1, -7, 1) -> signs (+, +, -, +)
        // disjoint mean of agreeing entries: (3/1, 4/1, -7/1, 6/1)
        Path z = file("base", 0, 0, 0, 0);
        float[] r = merge(Strategy.TIES, Map.of("density", 0.5), z, null,
                new Path[] {file("a", 3, -1, 2, -5), file("b", -1, 4, 1, 6), file("c", 2, -3, -7, 1)}, null);
        assertArrayEquals(new float[] {3, 4, -7, 6}, r);
    }

    @Test
    void krumPicksTheModelClosestToItsNeighbours() {
        // four models near (1, 1) and one far away; with f = 1 each score sums the 2 nearest squared distances.
        Path z = file("base", 0, 0);
        Path[] m = {file("a", 1, 1), file("b", 1.1f, 1), file("c", 1, 0.9f), file("d", 1.05f, 0.95f), file("e", 50, -50)};
        // d is within ~0.07 of a, b and c: smallest score.
        assertArrayEquals(new float[] {1.05f, 0.95f}, merge(Strategy.KRUM, Map.of("byzantine", 1), z, null, m, null));
        // multi-krum with 4 selected drops e: mean of a..d = (1.0375, 0.9625)
        float[] mk = merge(Strategy.MULTI_KRUM, Map.of("byzantine", 1, "select", 4), z, null, m, null);
        assertEquals(1.0375f, mk[0], 1e-6);
        assertEquals(0.9625f, mk[1], 1e-6);
    }

    @Test
    void medianResistsAnOutlierWhereAverageDoesNot() {
        Path z = file("base", 0);
        Path[] m = {file("a", 1), file("b", 2), file("c", 1000)};
        assertArrayEquals(new float[] {2}, merge(Strategy.MEDIAN, Map.of(), z, null, m, null));
        assertArrayEquals(new float[] {1003f / 3}, merge(Strategy.AVERAGE, Map.of(), z, null, m, null));
    }

    @Test
    void clipScalesOnlyChangesAboveTheNorm() {
        // a's change (3, 4) has norm 5 -> clipped to norm 1: (0.6, 0.8); b's (0.3, 0.4) has norm 0.5, kept.
        Path z = file("base", 0, 0);
        float[] r = merge(Strategy.TASK_ARITHMETIC, Map.of("clip_norm", 1.0), z, null,
                new Path[] {file("a", 3, 4), file("b", 0.3f, 0.4f)}, null);
        assertEquals(0.9f, r[0], 1e-6);
        assertEquals(1.2f, r[1], 1e-6);
    }

    @Test
    void baseRuleKeepsTensorsAndOverridesApplyByPattern() {
        List<TensorInfo> layout = List.of(TensorInfo.of("x.weight", DType.F32, 2), TensorInfo.of("x.bias", DType.F32, 2));
        Path base = MergeFixtures.write(dir.resolve("b.safetensors"), layout, Map.of("x.weight", new float[] {0, 0}, "x.bias", new float[] {0, 0}));
        Path a = MergeFixtures.write(dir.resolve("a2.safetensors"), layout, Map.of("x.weight", new float[] {2, 4}, "x.bias", new float[] {1, 1}));
        Path c = MergeFixtures.write(dir.resolve("c2.safetensors"), layout, Map.of("x.weight", new float[] {4, 8}, "x.bias", new float[] {3, 3}));
        Path out = dir.resolve("rules.safetensors");
        try (TensorSource bs = SafetensorsFile.open(base); TensorSource as = SafetensorsFile.open(a); TensorSource cs = SafetensorsFile.open(c)) {
            Merger.builder().base(bs).input(MergeInput.model("a", as)).input(MergeInput.model("c", cs))
                    .strategy(Strategy.TASK_ARITHMETIC)
                    .rule("*.bias", Strategy.BASE, MergeParameters.defaults())
                    .rule("re:x\\.w.*", Strategy.AVERAGE, MergeParameters.defaults())
                    .build().mergeTo(out);
        }
        assertArrayEquals(new float[] {3, 6}, MergeFixtures.read(out, "x.weight"));
        assertArrayEquals(new float[] {0, 0}, MergeFixtures.read(out, "x.bias"));
    }
}
