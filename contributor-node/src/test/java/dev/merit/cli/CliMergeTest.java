package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** merit merge: recipes over files and revisions, and merge commits from stored sparse deltas. */
class CliMergeTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    CliRunner merit;
    Path base;
    Path a;
    Path b;

    @BeforeEach
    void models() {
        merit = new CliRunner(dir);
        base = TestModels.builder().seed(1).tensor("w", DType.F32, 60, 50).tensor("h", DType.BF16, 40).write(dir.resolve("base.safetensors"));
        a = TestModels.perturb(base, dir.resolve("a.safetensors"), 0.05, 2);
        b = TestModels.perturb(base, dir.resolve("b.safetensors"), 0.05, 3);
    }

    private CliRunner.Result ok(String... args) {
        CliRunner.Result r = merit.run(args);
        assertEquals(0, r.exitCode(), () -> "merit " + String.join(" ", args) + "\n" + r);
        return r;
    }

    /** Expected value of a weighted task-arithmetic style combination, computed here entry by entry. */
    private static double[] combine(Path basePath, List<Path> models, double[] coeff, String tensor) {
        try (SafetensorsFile bs = SafetensorsFile.open(basePath)) {
            TensorInfo t = bs.info(tensor).orElseThrow();
            double[] out = new double[(int) t.numel()];
            for (int i = 0; i < out.length; i++) {
                out[i] = t.dtype().getDouble(bs.data(tensor), i);
            }
            for (int m = 0; m < models.size(); m++) {
                try (SafetensorsFile ms = SafetensorsFile.open(models.get(m))) {
                    for (int i = 0; i < out.length; i++) {
                        double d = t.dtype().getDouble(ms.data(tensor), i) - t.dtype().getDouble(bs.data(tensor), i);
                        out[i] += coeff[m] * d;
                    }
                }
            }
            return out;
        }
    }

    private static void assertTensorClose(double[] expected, Path file, String tensor, double tol) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorInfo t = f.info(tensor).orElseThrow();
            for (int i = 0; i < expected.length; i++) {
                double got = t.dtype().getDouble(f.data(tensor), i);
                double scale = Math.max(1, Math.abs(expected[i]));
                assertEquals(expected[i], got, tol * scale, tensor + "[" + i + "]");
            }
        }
    }

    @Test
    void recipeAverageOfFiles() throws Exception {
        Files.writeString(dir.resolve("avg.yaml"), """
                strategy: average
                base: base.safetensors
                models:
                  - model: a.safetensors
                    weight: 3
                  - model: b.safetensors
                    weight: 1
                output: merged.safetensors
                """);
        JsonNode r = JSON.readTree(ok("merge", "--recipe", "avg.yaml", "--json", "--explain").out());
        assertEquals("average", r.path("strategy").asText());
        assertTrue(r.path("statistics").path("overall").path("pairs").size() == 1, r.toString());
        double[] expected = combine(base, List.of(a, b), new double[] {0.75, 0.25}, "w");
        assertTensorClose(expected, dir.resolve("merged.safetensors"), "w", 1e-6);
        double[] expectedH = combine(base, List.of(a, b), new double[] {0.75, 0.25}, "h");
        assertTensorClose(expectedH, dir.resolve("merged.safetensors"), "h", 1.0 / 128);
    }

    /** A Gram file for tensor "w" (50 inputs) with diagonal {@code diag(k) = scale * (k + 1)}: packed upper or full. */
    private Path diagonalGram(String name, double scale, boolean packed) {
        int in = 50;
        TensorInfo t = packed ? TensorInfo.of("w", DType.F32, dev.merit.merge.GramMatrix.packedSize(in)) : TensorInfo.of("w", DType.F32, in, in);
        java.util.Map<String, String> meta = packed
                ? java.util.Map.of(dev.merit.merge.GramMatrix.FORMAT_KEY, dev.merit.merge.GramMatrix.PACKED_UPPER) : java.util.Map.of();
        Path p = dir.resolve(name);
        try (dev.merit.safetensors.SafetensorsWriter w = dev.merit.safetensors.SafetensorsWriter.create(p, List.of(t), meta)) {
            long q = 0;
            for (int r = 0; r < in; r++) {
                for (int c = packed ? r : 0; c < in; c++) {
                    DType.F32.setDouble(w.segment("w"), q++, r == c ? scale * (r + 1) : 0);
                }
            }
            w.finish();
        }
        return p;
    }

    @Test
    void regmeanOfFilesWithAGramEach() throws Exception {
        diagonalGram("ga.safetensors", 1.0, true);
        Path gb = diagonalGram("gb.safetensors", 3.0, false);
        JsonNode r = JSON.readTree(ok("merge", "a.safetensors", "b.safetensors", "--strategy", "regmean", "--base", "base.safetensors",
                "--gram", "ga.safetensors", "--gram", gb.getFileName().toString(), "-o", "rm.safetensors", "--json").out());
        assertEquals("regmean", r.path("strategy").asText());
        // Diagonal Gram matrices make regmean a per-column weighted mean: column k weighs a by (k+1), b by 3(k+1), so 1/4 and 3/4.
        double[] expected = combine(base, List.of(a, b), new double[] {0.25, 0.75}, "w");
        assertTensorClose(expected, dir.resolve("rm.safetensors"), "w", 1e-6);
        double[] expectedH = combine(base, List.of(a, b), new double[] {0.5, 0.5}, "h");
        assertTensorClose(expectedH, dir.resolve("rm.safetensors"), "h", 1.0 / 128);

        CliRunner.Result missing = merit.run("merge", "a.safetensors", "b.safetensors", "--strategy", "regmean",
                "--gram", "ga.safetensors", "-o", "x.safetensors");
        assertEquals(4, missing.exitCode(), missing::toString);
        assertTrue(missing.err().contains("--gram given 1 times for 2 model files"), missing.err());
    }

    @Test
    void regmeanOfRevisionsUsesTheirStoredGramsAndEqualsTheFileMerge() throws Exception {
        diagonalGram("ga.safetensors", 1.0, true);
        // A non-diagonal Gram for b, so the result depends on the off-diagonal terms too.
        Path gb = dir.resolve("gb.safetensors");
        int in = 50;
        try (dev.merit.safetensors.SafetensorsWriter w = dev.merit.safetensors.SafetensorsWriter.create(gb,
                List.of(TensorInfo.of("w", DType.F32, dev.merit.merge.GramMatrix.packedSize(in))),
                java.util.Map.of(dev.merit.merge.GramMatrix.FORMAT_KEY, dev.merit.merge.GramMatrix.PACKED_UPPER))) {
            long q = 0;
            for (int r = 0; r < in; r++) {
                for (int c = r; c < in; c++) {
                    DType.F32.setDouble(w.segment("w"), q++, r == c ? 2.0 + r : 0.3 / (1 + c - r));
                }
            }
            w.finish();
        }
        ok("merge", "a.safetensors", "b.safetensors", "--strategy", "regmean", "--base", "base.safetensors",
                "--gram", "ga.safetensors", "--gram", "gb.safetensors", "-o", "files.safetensors");

        ok("init", "--from", "base.safetensors", "-m", "base");
        ok("switch", "-c", "left");
        ok("commit", "a.safetensors", "--gram", "ga.safetensors", "-m", "left change");
        ok("switch", "main");
        ok("branch", "right");
        ok("switch", "right");
        ok("commit", "b.safetensors", "-m", "right change, no Gram");
        ok("switch", "main");
        CliRunner.Result none = merit.run("merge", "left", "right", "--strategy", "regmean");
        assertEquals(4, none.exitCode(), none::toString);
        assertTrue(none.err().contains("revision 'right' has none"), none.err());

        ok("switch", "right");
        ok("commit", "b.safetensors", "--gram", "gb.safetensors", "-m", "right change with its Gram");
        ok("switch", "main");
        JsonNode r = JSON.readTree(ok("merge", "left", "right", "--strategy", "regmean", "--json").out());
        assertEquals("regmean", r.path("strategy").asText());
        ok("checkout", "HEAD", "-o", "revs.safetensors");
        for (String t : List.of("w", "h")) {
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("files.safetensors"))) {
                TensorInfo info = f.info(t).orElseThrow();
                double[] expected = new double[(int) info.numel()];
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = info.dtype().getDouble(f.data(t), i);
                }
                assertTensorClose(expected, dir.resolve("revs.safetensors"), t, 1e-6);
            }
        }
    }

    @Test
    void recipeErrorsNameTheModel() throws Exception {
        Files.writeString(dir.resolve("bad.yaml"), """
                strategy: fisher
                base: base.safetensors
                models:
                  - model: a.safetensors
                  - model: b.safetensors
                output: merged.safetensors
                """);
        CliRunner.Result r = merit.run("merge", "--recipe", "bad.yaml");
        assertEquals(4, r.exitCode(), r::toString);
        assertTrue(r.err().contains("a.safetensors") && r.err().contains("needs a Fisher"), r.err());
        Files.writeString(dir.resolve("bad2.yaml"), "strategy: blend\nbase: base.safetensors\nmodels: [a.safetensors]\n");
        CliRunner.Result r2 = merit.run("merge", "--recipe", "bad2.yaml");
        assertEquals(4, r2.exitCode(), r2::toString);
        assertTrue(r2.err().contains("blend"), r2.err());
        assertTrue(Files.notExists(dir.resolve("merged.safetensors")));
    }

    @Test
    void mergeCommitOfTwoBranchesFromStoredDeltas() throws Exception {
        ok("init", "--from", "base.safetensors", "-m", "base");
        ok("tag", "base");
        ok("switch", "-c", "left");
        ok("commit", "a.safetensors", "-m", "left change");
        ok("switch", "main");
        ok("branch", "right");
        ok("switch", "right");
        ok("commit", "b.safetensors", "-m", "right change");
        ok("switch", "main");
        JsonNode r = JSON.readTree(ok("merge", "left", "right", "--strategy", "task-arithmetic", "-p", "lambda=0.5",
                "-m", "combine", "--json").out());
        String commit = r.path("commit").asText();
        JsonNode show = JSON.readTree(ok("show", commit, "--json").out());
        assertEquals(3, show.path("parents").size(), "parents: HEAD, left, right");
        assertEquals("task-arithmetic", show.path("provenance").path("merge").path("strategy").asText());
        assertEquals(r.path("base").asText(), show.path("provenance").path("merge").path("base").asText());
        ok("checkout", "HEAD", "-o", "merged.safetensors");
        double[] expected = combine(base, List.of(a, b), new double[] {0.5, 0.5}, "w");
        assertTensorClose(expected, dir.resolve("merged.safetensors"), "w", 1e-6);
        // Merging again is a merge of the same changes: HEAD now has changes, so it must be listed.
        CliRunner.Result again = merit.run("merge", "left", "right");
        assertEquals(4, again.exitCode(), again::toString);
        assertTrue(again.err().contains("list HEAD"), again.err());
    }

    @Test
    void fisherMergeNeedsAttachedFishers() {
        ok("init", "--from", "base.safetensors");
        ok("switch", "-c", "x");
        ok("commit", "a.safetensors", "-m", "x");
        ok("switch", "main");
        CliRunner.Result r = merit.run("merge", "x", "--strategy", "fisher");
        assertEquals(4, r.exitCode(), r::toString);
        assertTrue(r.err().contains("revision 'x' has none"), r.err());
    }
}
