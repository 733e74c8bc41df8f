package dev.merit.merge.recipe;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.Strategy;
import dev.merit.tensor.DType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A merge described in YAML (format in {@code docs/merging.md}):
 * <pre>
 * strategy: fisher
 * base: base.safetensors
 * models:
 *   - {model: a.safetensors, weight: 1.0, fisher: a.fisher.safetensors}
 *   - {model: b.safetensors, weight: 0.5, fisher: b.fisher.safetensors}
 * parameters: {fisher_floor: 1.0e-6}
 * tensors:
 *   - {pattern: "*.bias", strategy: average}
 * output: merged.safetensors
 * </pre>
 * Parsing checks every field and value and throws {@link InvalidInputException} naming the
 * recipe and the field; files are checked when {@link MergeRunner} opens them.
 *
 * @param source     where the recipe came from, for messages
 * @param version    format version ({@code merit_recipe}), currently {@value #FORMAT_VERSION}
 * @param strategy   the strategy for tensors no rule matches
 * @param base       the base: a path (relative to the recipe's folder) or a revision; null if none
 * @param baseFisher the base's Fisher, for {@code favor_base}; null if none
 * @param models     the inputs, in order
 * @param parameters the strategy's parameters
 * @param tensors    per-tensor rules, first match wins
 * @param output     where to write, or null (then the caller must say)
 * @param dtype      dtype of the merged floating-point tensors, or null for the base's
 */
public record Recipe(String source, int version, Strategy strategy, String base, String baseFisher, List<Model> models,
                     MergeParameters parameters, List<TensorRule> tensors, String output, DType dtype) {

    public static final int FORMAT_VERSION = 1;

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private static final Set<String> FIELDS = Set.of("merit_recipe", "strategy", "base", "base_fisher", "models",
            "parameters", "tensors", "output", "dtype");

    public Recipe {
        models = List.copyOf(models);
        tensors = List.copyOf(tensors);
    }

    /**
     * One input.
     *
     * @param field  the recipe field it came from, e.g. {@code models[1]}
     * @param path   a path or revision
     * @param delta  true if {@code path} holds a dense delta against the base ({@code delta:} instead of {@code model:})
     * @param weight lambda_i
     * @param fisher its diagonal Fisher, or null
     * @param gram   the Gram matrices of its linear layers' inputs (for regmean), or null
     */
    public record Model(String field, String path, boolean delta, double weight, String fisher, String gram) {}

    /**
     * Overrides for tensors whose name matches {@code pattern}.
     *
     * @param field      the recipe field, e.g. {@code tensors[0]}
     * @param pattern    a glob ({@code *} matches anything, dots included) or {@code re:} and a regular expression
     * @param strategy   the strategy for those tensors
     * @param parameters the recipe's parameters with the rule's on top
     */
    public record TensorRule(String field, String pattern, Strategy strategy, MergeParameters parameters) {}

    /** Reads and parses a recipe file. */
    public static Recipe load(Path path) {
        try {
            return parse(Files.readString(path), path.toString());
        } catch (NoSuchFileException e) {
            throw new InvalidInputException("recipe " + path + ": no such file");
        } catch (IOException e) {
            throw new InvalidInputException("recipe " + path + ": " + e.getMessage(), e);
        }
    }

    /** Parses recipe text; {@code source} names it in messages. */
    public static Recipe parse(String yaml, String source) {
        JsonNode root;
        try {
            root = YAML.readTree(yaml);
        } catch (JsonProcessingException e) {
            throw new InvalidInputException("recipe " + source + ": invalid YAML: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " at line " + e.getLocation().getLineNr() : ""));
        }
        String at = "recipe " + source + ": ";
        if (root == null || !root.isObject()) {
            throw new InvalidInputException(at + "not a YAML mapping");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!FIELDS.contains(f)) {
                throw new InvalidInputException(at + "unknown field '" + f + "' (known: " + String.join(", ", FIELDS.stream().sorted().toList()) + ")");
            }
        }
        int version = FORMAT_VERSION;
        if (root.has("merit_recipe")) {
            JsonNode v = root.get("merit_recipe");
            if (!v.isInt() || v.intValue() != FORMAT_VERSION) {
                throw new InvalidInputException(at + "field 'merit_recipe' is " + v + ", this Merit reads format version " + FORMAT_VERSION);
            }
            version = v.intValue();
        }
        String strategyName = text(root, "strategy", at, true);
        Strategy strategy = wrap(at + "field 'strategy': ", () -> Strategy.parse(strategyName));
        MergeParameters params = MergeParameters.defaults();
        if (root.has("parameters")) {
            Map<String, Object> p = map(root.get("parameters"), at + "field 'parameters'");
            params = wrap(at + "field 'parameters': ", () -> MergeParameters.defaults().with(p));
        }
        JsonNode modelsNode = root.get("models");
        if (modelsNode == null || !modelsNode.isArray() || modelsNode.isEmpty()) {
            throw new InvalidInputException(at + "field 'models' must be a non-empty list");
        }
        List<Model> models = new ArrayList<>();
        for (int i = 0; i < modelsNode.size(); i++) {
            models.add(model(modelsNode.get(i), "models[" + i + "]", at));
        }
        List<TensorRule> rules = new ArrayList<>();
        JsonNode tensorsNode = root.get("tensors");
        if (tensorsNode != null && !tensorsNode.isNull()) {
            if (!tensorsNode.isArray()) {
                throw new InvalidInputException(at + "field 'tensors' must be a list of rules");
            }
            for (int i = 0; i < tensorsNode.size(); i++) {
                rules.add(rule(tensorsNode.get(i), "tensors[" + i + "]", at, strategy, params));
            }
        }
        String dtypeName = text(root, "dtype", at, false);
        DType dtype = null;
        if (dtypeName != null) {
            dtype = wrap(at + "field 'dtype': ", () -> DType.parse(dtypeName));
            if (!dtype.isFloatingPoint()) {
                throw new InvalidInputException(at + "field 'dtype' is " + dtype + ", must be F64, F32, F16 or BF16");
            }
        }
        return new Recipe(source, version, strategy, text(root, "base", at, false), text(root, "base_fisher", at, false),
                models, params, rules, text(root, "output", at, false), dtype);
    }

    private static Model model(JsonNode node, String field, String at) {
        if (node.isTextual()) {
            return new Model(field, node.textValue(), false, 1.0, null, null);
        }
        if (!node.isObject()) {
            throw new InvalidInputException(at + field + " must be a mapping like {model: a.safetensors, weight: 1.0}");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!Set.of("model", "delta", "weight", "fisher", "gram").contains(f)) {
                throw new InvalidInputException(at + field + ": unknown field '" + f + "' (known: model, delta, weight, fisher, gram)");
            }
        }
        String model = text(node, "model", at + field + ": ", false);
        String delta = text(node, "delta", at + field + ": ", false);
        if ((model == null) == (delta == null)) {
            throw new InvalidInputException(at + field + " needs exactly one of 'model' and 'delta'");
        }
        double weight = 1.0;
        JsonNode w = node.get("weight");
        if (w != null) {
            if (!w.isNumber() || !Double.isFinite(w.doubleValue())) {
                throw new InvalidInputException(at + field + ".weight must be a finite number, got " + w);
            }
            weight = w.doubleValue();
        }
        return new Model(field, model != null ? model : delta, delta != null, weight, text(node, "fisher", at + field + ": ", false),
                text(node, "gram", at + field + ": ", false));
    }

    private static TensorRule rule(JsonNode node, String field, String at, Strategy strategy, MergeParameters params) {
        if (!node.isObject()) {
            throw new InvalidInputException(at + field + " must be a mapping like {pattern: \"*.bias\", strategy: average}");
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!Set.of("pattern", "strategy", "parameters").contains(f)) {
                throw new InvalidInputException(at + field + ": unknown field '" + f + "' (known: pattern, strategy, parameters)");
            }
        }
        String pattern = text(node, "pattern", at + field + ": ", true);
        try {
            java.util.regex.Pattern.compile(pattern.startsWith("re:") ? pattern.substring(3) : "x");
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new InvalidInputException(at + field + ".pattern: invalid regular expression: " + e.getDescription());
        }
        String s = text(node, "strategy", at + field + ": ", false);
        Strategy st = s == null ? strategy : wrap(at + field + ".strategy: ", () -> Strategy.parse(s));
        MergeParameters p = params;
        if (node.has("parameters")) {
            Map<String, Object> m = map(node.get("parameters"), at + field + ".parameters");
            p = wrap(at + field + ".parameters: ", () -> params.with(m));
        }
        return new TensorRule(field, pattern, st, p);
    }

    private static String text(JsonNode node, String name, String at, boolean required) {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            if (required) {
                throw new InvalidInputException(at + "missing field '" + name + "'");
            }
            return null;
        }
        if (!v.isTextual() || v.textValue().isBlank()) {
            throw new InvalidInputException(at + "field '" + name + "' must be a non-empty string, got " + v);
        }
        return v.textValue();
    }

    private static Map<String, Object> map(JsonNode node, String where) {
        if (!node.isObject()) {
            throw new InvalidInputException(where + " must be a mapping");
        }
        Map<String, Object> m = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            Object value = v.isNumber() ? (Object) v.numberValue() : v.isBoolean() ? (Object) v.booleanValue()
                    : v.isTextual() ? v.textValue() : v.toString();
            m.put(e.getKey(), value);
        }
        return m;
    }

    private static <T> T wrap(String prefix, java.util.function.Supplier<T> s) {
        try {
            return s.get();
        } catch (InvalidInputException | IllegalArgumentException e) {
            throw new InvalidInputException(prefix + e.getMessage(), e);
        }
    }
}
