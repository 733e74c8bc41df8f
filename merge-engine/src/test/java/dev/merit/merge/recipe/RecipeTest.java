package dev.merit.merge.recipe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.MergeResult;
import dev.merit.merge.Merger;
import dev.merit.merge.Strategy;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorSource;
import dev.merit.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Recipe parsing, running, and the messages of bad recipes. */
class RecipeTest {

    @TempDir
    Path dir;

    @BeforeEach
    void files() {
        TestModels.builder().seed(1).tensor("w", DType.F32, 8, 4).tensor("b", DType.F32, 4).write(dir.resolve("base.safetensors"));
        TestModels.perturb(dir.resolve("base.safetensors"), dir.resolve("a.safetensors"), 0.5, 2);
        TestModels.perturb(dir.resolve("base.safetensors"), dir.resolve("b.safetensors"), 0.5, 3);
        TestModels.builder().seed(4).tensor("w", DType.F32, 8, 4).tensor("b", DType.F32, 4).write(dir.resolve("a.fisher.safetensors"));
        TestModels.builder().seed(5).tensor("w", DType.F16, 8, 4).tensor("b", DType.F16, 4).write(dir.resolve("b.fisher.safetensors"));
        TestModels.builder().seed(6).tensor("w", DType.F32, 4, 8).tensor("b", DType.F32, 4).write(dir.resolve("wrong.safetensors"));
        TestModels.builder().seed(7).tensor("w", DType.BF16, 8, 4).tensor("b", DType.BF16, 4).write(dir.resolve("bf16.safetensors"));
    }

    static final String FISHER = """
            strategy: fisher
            base: base.safetensors
            models:
              - {model: a.safetensors, weight: 1.0, fisher: a.fisher.safetensors}
              - {model: b.safetensors, weight: 0.5, fisher: b.fisher.safetensors}
            parameters: {fisher_floor: 1.0e-6}
            tensors:
              - {pattern: "b", strategy: average, parameters: {average_over: touched}}
            output: merged.safetensors
            """;

    @Test
    void parsesEveryField() {
        Recipe r = Recipe.parse(FISHER + "dtype: bf16\nmerit_recipe: 1\n", "r.yaml");
        assertEquals(Strategy.FISHER, r.strategy());
        assertEquals("base.safetensors", r.base());
        assertEquals(2, r.models().size());
        assertEquals(0.5, r.models().get(1).weight());
        assertEquals("b.fisher.safetensors", r.models().get(1).fisher());
        assertEquals("models[1]", r.models().get(1).field());
        assertEquals(1e-6, r.parameters().fisherFloor());
        assertEquals(Strategy.AVERAGE, r.tensors().getFirst().strategy());
        assertEquals(MergeParameters.Over.TOUCHED, r.tensors().getFirst().parameters().averageOver());
        assertEquals(1e-6, r.tensors().getFirst().parameters().fisherFloor(), "rules inherit the recipe's parameters");
        assertEquals(DType.BF16, r.dtype());
        assertNull(r.baseFisher());
    }

    @Test
    void runMatchesTheEngineCalledDirectly() throws Exception {
        Path recipe = dir.resolve("r.yaml");
        Files.writeString(recipe, FISHER);
        MergeResult r = MergeRunner.run(Recipe.load(recipe), dir, p -> {});
        assertEquals(2, r.tensors());
        Path direct = dir.resolve("direct.safetensors");
        try (TensorSource base = SafetensorsFile.open(dir.resolve("base.safetensors"));
             TensorSource a = SafetensorsFile.open(dir.resolve("a.safetensors"));
             TensorSource b = SafetensorsFile.open(dir.resolve("b.safetensors"));
             TensorSource fa = SafetensorsFile.open(dir.resolve("a.fisher.safetensors"));
             TensorSource fb = SafetensorsFile.open(dir.resolve("b.fisher.safetensors"))) {
            Merger.builder().base(base).strategy(Strategy.FISHER)
                    .input(MergeInput.model("a", a).withFisher(fa)).input(MergeInput.model("b", b).withWeight(0.5).withFisher(fb))
                    .rule("b", Strategy.AVERAGE, MergeParameters.defaults().with(Map.of("average_over", "touched")))
                    .build().mergeTo(direct);
        }
        try (SafetensorsFile x = SafetensorsFile.open(dir.resolve("merged.safetensors")); SafetensorsFile y = SafetensorsFile.open(direct)) {
            for (String t : new String[] {"w", "b"}) {
                assertEquals(-1, x.data(t).mismatch(y.data(t)), t);
            }
            assertEquals("fisher", x.metadata().get("merit.merge.strategy"));
        }
    }

    @Test
    void outputOverrideAndStatistics() {
        Path out = dir.resolve("sub/o.safetensors");
        MergeResult r = MergeRunner.files(dir).output(out).statistics(true).run(Recipe.parse(FISHER, "r"));
        assertTrue(Files.exists(out));
        assertEquals(2, r.statistics().orElseThrow().tensors().size());
    }

    private String fails(String yaml) {
        return assertThrows(InvalidInputException.class, () -> MergeRunner.files(dir).run(Recipe.parse(yaml, "r.yaml"))).getMessage();
    }

    @Test
    void badRecipesNameTheFieldModelAndTensor() {
        assertContains(fails(FISHER.replace("strategy: fisher", "strategy: slerpy")), "field 'strategy'", "unknown strategy 'slerpy'");
        assertContains(fails(FISHER.replace("model: b.safetensors", "model: nope.safetensors")), "models[1].model", "nope.safetensors");
        assertContains(fails(FISHER.replace("model: b.safetensors", "model: wrong.safetensors")), "wrong.safetensors", "tensor 'w'", "shape [4, 8]");
        assertContains(fails(FISHER.replace("model: b.safetensors", "model: bf16.safetensors")), "bf16.safetensors", "tensor 'w'", "BF16");
        assertContains(fails(FISHER.replace("fisher: b.fisher.safetensors", "fisher: wrong.safetensors")), "Fisher", "tensor 'w'", "shape [4, 8]");
        assertContains(fails(FISHER.replace(", fisher: b.fisher.safetensors", "")), "input 'b.safetensors'", "needs a Fisher");
        assertContains(fails(FISHER + "colour: blue\n"), "unknown field 'colour'");
        assertContains(fails(FISHER.replace("fisher_floor: 1.0e-6", "fisher_floor: -1")), "fisher_floor", "-1");
        assertContains(fails(FISHER.replace("fisher_floor: 1.0e-6", "flooor: 1")), "unknown parameter 'flooor'");
        assertContains(fails(FISHER.replace("fisher_floor: 1.0e-6", "favor_base: true")), "favor_base", "base_fisher");
        assertContains(fails(FISHER.replace("base: base.safetensors\n", "").replace("strategy: fisher", "strategy: ties")), "needs a base");
        assertContains(fails(FISHER.replace("weight: 0.5", "weight: abc")), "models[1].weight");
        assertContains(fails("strategy: average\nmodels: []\n"), "'models'");
        assertContains(fails(FISHER.replace("output: merged.safetensors", "")), "no output");
        assertContains(fails(FISHER + "merit_recipe: 7\n"), "merit_recipe", "7");
        assertContains(fails("strategy: [\n"), "invalid YAML");
        assertContains(fails(FISHER.replace("strategy: average, ", "strategy: krum, ")), "krum", "needs at least 3 models");
    }

    private static void assertContains(String message, String... parts) {
        assertTrue(message.startsWith("recipe r.yaml: "), message);
        for (String p : parts) {
            assertTrue(message.contains(p), "'" + p + "' not in: " + message);
        }
    }
}
