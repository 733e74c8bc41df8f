package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.merge.recipe.MergeRunner;
import dev.merit.merge.recipe.Recipe;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The regmean strategy against an independent numpy solve: two linear layers from Gram files in
 * all three stored forms (packed F32, full F32, packed F16), biases by the fallback average,
 * with weights and two values of alpha; plus the errors a bad Gram file gets.
 */
class RegMeanTest {

    @TempDir
    static Path dir;

    static final List<TensorInfo> LAYOUT = List.of(TensorInfo.of("fc1.weight", DType.F32, 48, 40),
            TensorInfo.of("fc1.bias", DType.F32, 48), TensorInfo.of("fc2.weight", DType.F32, 10, 48),
            TensorInfo.of("fc2.bias", DType.F32, 10), TensorInfo.of("ids", DType.I64, 3));
    static final double[] WEIGHTS = {1.0, 0.5, 2.0};
    static Path base;
    static final Path[] models = new Path[3];
    static final Path[] grams = new Path[3];

    @BeforeAll
    static void fixtures() {
        base = MergeFixtures.model(dir.resolve("base.safetensors"), LAYOUT, 7);
        for (int i = 0; i < models.length; i++) {
            models[i] = MergeFixtures.perturbed(base, dir.resolve("m" + i + ".safetensors"), 1.0, 50 + i);
            grams[i] = gramFile(dir.resolve("g" + i + ".safetensors"), 90 + i, i != 1, i == 2 ? DType.F16 : DType.F32, true);
        }
    }

    /** G = X^T X / N for random inputs X (N = 64) with a different scale per feature, for both layers. */
    static Path gramFile(Path path, long seed, boolean packed, DType dt, boolean withMetadata) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<String, double[]> g = new HashMap<>();
        List<TensorInfo> layout = new ArrayList<>();
        for (TensorInfo t : LAYOUT) {
            if (t.shape().length != 2) {
                continue;
            }
            int in = (int) t.shape()[1];
            int rows = 64;
            double[][] x = new double[rows][in];
            for (double[] row : x) {
                for (int k = 0; k < in; k++) {
                    row[k] = rnd.nextGaussian() * (0.2 + (k % 7) * 0.3);
                }
            }
            double[] full = new double[in * in];
            for (double[] row : x) {
                for (int r = 0; r < in; r++) {
                    for (int c = 0; c < in; c++) {
                        full[r * in + c] += row[r] * row[c] / rows;
                    }
                }
            }
            g.put(t.name(), full);
            layout.add(packed ? TensorInfo.of(t.name(), dt, GramMatrix.packedSize(in)) : TensorInfo.of(t.name(), dt, in, in));
        }
        Map<String, String> meta = withMetadata && packed
                ? Map.of(GramMatrix.FORMAT_KEY, GramMatrix.PACKED_UPPER, GramMatrix.EXAMPLES_KEY, "64") : Map.of();
        try (SafetensorsWriter w = SafetensorsWriter.create(path, layout, meta)) {
            for (TensorInfo t : layout) {
                MemorySegment s = w.segment(t.name());
                double[] full = g.get(t.name());
                int in = (int) Math.round(Math.sqrt(full.length));
                long q = 0;
                for (int r = 0; r < in; r++) {
                    for (int c = packed ? r : 0; c < in; c++) {
                        dt.setDouble(s, q++, full[r * in + c]);
                    }
                }
            }
            w.finish();
        }
        return path;
    }

    private static Path merge(Map<String, Object> params, Consumer<Merger.Builder> extra) {
        Path out = dir.resolve("merged-" + params.hashCode() + ".safetensors");
        List<TensorSource> open = new ArrayList<>();
        try {
            TensorSource b = SafetensorsFile.open(base);
            open.add(b);
            Merger.Builder mb = Merger.builder().base(b).strategy(Strategy.REGMEAN)
                    .parameters(MergeParameters.defaults().with(params)).threads(2).blockSize(1000);
            for (int i = 0; i < models.length; i++) {
                TensorSource m = SafetensorsFile.open(models[i]);
                TensorSource g = SafetensorsFile.open(grams[i]);
                open.add(m);
                open.add(g);
                mb.input(MergeInput.model("m" + i, m).withWeight(WEIGHTS[i]).withGram(g));
            }
            extra.accept(mb);
            mb.build().mergeTo(out);
            return out;
        } finally {
            open.forEach(TensorSource::close);
        }
    }

    private static Path numpy(double alpha) throws Exception {
        Map<String, Object> spec = new HashMap<>();
        spec.put("models", java.util.Arrays.stream(models).map(Path::toString).toList());
        spec.put("grams", java.util.Arrays.stream(grams).map(Path::toString).toList());
        spec.put("weights", java.util.Arrays.stream(WEIGHTS).boxed().toList());
        spec.put("alpha", alpha);
        return MergeFixtures.reference(dir, "regmean_reference.py", spec);
    }

    @Test
    void matchesNumpyForEveryGramForm() throws Exception {
        MergeFixtures.assertClose(numpy(0.9), merge(Map.of(), b -> {}), 1e-5, 1e-4);
        MergeFixtures.assertClose(numpy(0.5), merge(Map.of("alpha", 0.5), b -> {}), 1e-5, 1e-4);
    }

    @Test
    void differsFromTheAverageOnLinearLayersOnly() {
        Path regmean = merge(Map.of(), b -> {});
        Path average = merge(Map.of("fallback", "average", "alpha", 0.9, "lambda", 1.0), b -> b.rule("*", Strategy.AVERAGE,
                MergeParameters.defaults()));
        assertTrue(java.util.Arrays.equals(MergeFixtures.read(regmean, "fc1.bias"), MergeFixtures.read(average, "fc1.bias")),
                "biases use the fallback average");
        assertFalse(java.util.Arrays.equals(MergeFixtures.read(regmean, "fc1.weight"), MergeFixtures.read(average, "fc1.weight")));
    }

    @Test
    void recipesTakeAGramPerModel() throws Exception {
        Path recipe = dir.resolve("regmean.yaml");
        StringBuilder y = new StringBuilder("strategy: regmean\nbase: base.safetensors\nparameters: {alpha: 0.9}\nmodels:\n");
        for (int i = 0; i < 3; i++) {
            y.append("  - {model: m").append(i).append(".safetensors, weight: ").append(WEIGHTS[i])
                    .append(", gram: g").append(i).append(".safetensors}\n");
        }
        y.append("output: recipe-out.safetensors\n");
        Files.writeString(recipe, y);
        MergeRunner.run(Recipe.load(recipe), dir, ProgressListener.NONE);
        MergeFixtures.assertClose(numpy(0.9), dir.resolve("recipe-out.safetensors"), 1e-5, 1e-4);
    }

    @Test
    void badGramFilesAreNamed() throws Exception {
        Path noMeta = gramFile(dir.resolve("nometa.safetensors"), 1, true, DType.F32, false);
        Path wrongShape = dir.resolve("wrong.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(wrongShape, List.of(TensorInfo.of("fc1.weight", DType.F32, 10, 10)), Map.of())) {
            w.finish();
        }
        Path missing = dir.resolve("missing.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(missing, List.of(TensorInfo.of("fc1.weight", DType.F32, 40, 40)), Map.of())) {
            w.finish();
        }
        Path stray = dir.resolve("stray.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(stray, List.of(TensorInfo.of("fc1.weight", DType.F32, 40, 40),
                TensorInfo.of("fc2.weight", DType.F32, 48, 48), TensorInfo.of("fc1.bias", DType.F32, 48, 48)), Map.of())) {
            w.finish();
        }
        for (var c : List.of(Map.entry(noMeta, "no \"merit.gram\": \"packed-upper\""), Map.entry(wrongShape, "has shape [10, 10]; the layer has 40 inputs"),
                Map.entry(stray, "matrix 'fc1.bias' names tensor with shape [48]"),
                Map.entry(missing, "no Gram matrix 'fc2.weight'"))) {
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> merge(Map.of(), b -> {
                TensorSource g = SafetensorsFile.open(c.getKey());
                b.input(MergeInput.model("bad", SafetensorsFile.open(models[0])).withGram(g));
            }));
            assertTrue(e.getMessage().contains("input 'bad'") && e.getMessage().contains(c.getValue()), e.getMessage());
        }
        InvalidInputException none = assertThrows(InvalidInputException.class, () -> merge(Map.of(), b ->
                b.input(MergeInput.model("nogram", SafetensorsFile.open(models[0])))));
        assertTrue(none.getMessage().contains("input 'nogram'") && none.getMessage().contains("field 'gram'"), none.getMessage());
    }
}
