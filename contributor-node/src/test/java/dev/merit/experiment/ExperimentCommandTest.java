package dev.merit.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The q1 runner on its tiny configuration: tables, JSON, plots and recipes are written, and every figure is an accuracy. */
class ExperimentCommandTest {

    @TempDir
    Path out;

    @Test
    void quickMergeExperimentWritesFiniteAccuraciesAndReproducibleRecipes() throws Exception {
        Experiments.Outcome o = Experiments.run("q1", 1, out, null, true, null, null, new PrintWriter(Writer.nullWriter()));
        JsonNode json = new ObjectMapper().readTree(Files.readString(out.resolve("q1.json")));
        assertEquals(o.json().toString(), json.toString());
        for (String setting : List.of("dirichlet:0.3", "classes:2")) {
            JsonNode g = json.path("groups").path(setting);
            assertTrue(g.has("joint training on the union") && g.has("merge: regmean") && g.has("ensemble (mean of outputs)"), g.toString());
            for (Map.Entry<String, JsonNode> row : g.properties()) {
                double m = row.getValue().path("mean").asDouble(Double.NaN);
                assertTrue(m >= 0 && m <= 1, row.getKey() + " = " + m);
            }
            assertTrue(Files.readString(out.resolve("q1-" + setting.replace(':', '_') + ".svg")).startsWith("<svg"));
        }
        assertTrue(Files.readString(out.resolve("q1.md")).contains("| merge: fisher-exact |"));
        Path run = out.resolve("q1/dirichlet-0.3/seed0");
        // The recipe on disk names the files next to it and merges to the same bytes again.
        Path merged = run.resolve("merged-fisher-exact.safetensors");
        byte[] first = Files.readAllBytes(merged);
        dev.merit.merge.recipe.MergeRunner.files(run).output(run.resolve("again.safetensors"))
                .run(dev.merit.merge.recipe.Recipe.load(run.resolve("fisher-exact.yaml")));
        assertTrue(java.util.Arrays.equals(first, Files.readAllBytes(run.resolve("again.safetensors"))));
        assertTrue(Files.exists(run.resolve("LAYOUT.md")) && Files.exists(run.resolve("c0.gram.safetensors")));
    }
}
