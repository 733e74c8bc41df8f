package dev.merit.merge;

import dev.merit.error.InvalidInputException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The knobs of the strategies, with the names used in recipes. Unused knobs are ignored by
 * strategies that do not read them. Build with {@link #defaults()} and {@link #with(Map)}, which
 * checks names and ranges and names the offending parameter in its message.
 *
 * @param averageOver      sparse inputs: average over all inputs, or only those that touched an entry ({@code average_over})
 * @param fisherFloor      Fisher values below this are raised to it ({@code fisher_floor})
 * @param normalizeFishers divide each input's Fisher by its mean over the model first ({@code normalize_fishers})
 * @param favorBase        count the base as a model with its own Fisher ({@code favor_base})
 * @param baseWeight       lambda of the base when favoring it ({@code base_weight})
 * @param baseFisherValue  a constant Fisher for the base when no base Fisher file is given; NaN if unset ({@code base_fisher_value})
 * @param lambda           scale of the summed changes in task-arithmetic, ties and dare ({@code lambda})
 * @param density          fraction of each tensor's entries TIES keeps per input ({@code density})
 * @param dropRate         DARE's drop probability p ({@code drop_rate})
 * @param seed             DARE's seed ({@code seed})
 * @param beta             fraction trimmed at each end by trimmed-mean ({@code beta})
 * @param byzantine        Krum's f, the number of inputs assumed bad; -1 picks (n-3)/2 ({@code byzantine})
 * @param select           how many inputs multi-krum averages; 0 means n - f ({@code select})
 * @param clipNorm         norm-clip each input's change to this L2 norm before merging; 0 turns clipping off ({@code clip_norm})
 * @param clipScope        whether the clipped norm is over the whole model or each tensor ({@code clip_scope})
 * @param stepSize         eta in {@code base + eta * D} ({@code step_size})
 * @param alpha            RegMean's weight of the off-diagonal Gram entries: {@code G' = alpha G + (1 - alpha) diag(G)} ({@code alpha})
 * @param fallback         the strategy RegMean uses for tensors without Gram matrices (biases, norms, embeddings) ({@code fallback})
 */
public record MergeParameters(Over averageOver, double fisherFloor, boolean normalizeFishers, boolean favorBase,
                              double baseWeight, double baseFisherValue, double lambda, double density,
                              double dropRate, long seed, double beta, int byzantine, int select,
                              double clipNorm, ClipScope clipScope, double stepSize, double alpha, Strategy fallback) {

    /** Which inputs count at an entry of a sparse merge. */
    public enum Over { ALL, TOUCHED }

    /** The extent over which {@code clip_norm} measures a change. */
    public enum ClipScope { MODEL, TENSOR }

    private static final MergeParameters DEFAULTS = new MergeParameters(Over.ALL, 1e-6, false, false, 1.0, Double.NaN,
            1.0, 0.2, 0.9, 0, 0.1, -1, 0, 0, ClipScope.MODEL, 1.0, 0.9, Strategy.AVERAGE);

    public MergeParameters {
        check(fisherFloor >= 0 && Double.isFinite(fisherFloor), "fisher_floor", fisherFloor, "a finite number >= 0");
        check(baseWeight >= 0 && Double.isFinite(baseWeight), "base_weight", baseWeight, "a finite number >= 0");
        check(Double.isNaN(baseFisherValue) || baseFisherValue >= 0 && Double.isFinite(baseFisherValue),
                "base_fisher_value", baseFisherValue, "a finite number >= 0");
        check(Double.isFinite(lambda), "lambda", lambda, "a finite number");
        check(density > 0 && density <= 1, "density", density, "in (0, 1]");
        check(dropRate >= 0 && dropRate < 1, "drop_rate", dropRate, "in [0, 1)");
        check(beta >= 0 && beta < 0.5, "beta", beta, "in [0, 0.5)");
        check(byzantine >= -1, "byzantine", byzantine, ">= 0");
        check(select >= 0, "select", select, ">= 0");
        check(clipNorm >= 0 && Double.isFinite(clipNorm), "clip_norm", clipNorm, "a finite number >= 0 (0 = off)");
        check(Double.isFinite(stepSize), "step_size", stepSize, "a finite number");
        check(alpha >= 0 && alpha <= 1, "alpha", alpha, "in [0, 1]");
        check(fallback != null && fallback != Strategy.REGMEAN && !fallback.isKrum(), "fallback", fallback,
                "a strategy that merges entry by entry (not regmean, krum or multi-krum)");
    }

    private static void check(boolean ok, String name, Object value, String want) {
        if (!ok) {
            throw new InvalidInputException("parameter '" + name + "' is " + value + ", must be " + want);
        }
    }

    public static MergeParameters defaults() {
        return DEFAULTS;
    }

    /**
     * Returns a copy with the named parameters set. Values may be numbers, booleans or strings
     * (as YAML gives them); unknown names and bad values throw {@link InvalidInputException}.
     */
    public MergeParameters with(Map<String, ?> values) {
        Map<String, Object> m = new LinkedHashMap<>(asMap());
        values.forEach((k, v) -> {
            String key = k.toLowerCase(Locale.ROOT).replace('-', '_');
            if (key.equals("p")) {
                key = "drop_rate";
            }
            if (!m.containsKey(key)) {
                throw new InvalidInputException("unknown parameter '" + k + "' (known: " + String.join(", ", m.keySet()) + ")");
            }
            m.put(key, v);
        });
        return new MergeParameters(
                enumValue(Over.class, "average_over", m.get("average_over")),
                number("fisher_floor", m.get("fisher_floor")),
                bool("normalize_fishers", m.get("normalize_fishers")),
                bool("favor_base", m.get("favor_base")),
                number("base_weight", m.get("base_weight")),
                number("base_fisher_value", m.get("base_fisher_value")),
                number("lambda", m.get("lambda")),
                number("density", m.get("density")),
                number("drop_rate", m.get("drop_rate")),
                integer("seed", m.get("seed")),
                number("beta", m.get("beta")),
                Math.toIntExact(integer("byzantine", m.get("byzantine"))),
                Math.toIntExact(integer("select", m.get("select"))),
                number("clip_norm", m.get("clip_norm")),
                enumValue(ClipScope.class, "clip_scope", m.get("clip_scope")),
                number("step_size", m.get("step_size")),
                number("alpha", m.get("alpha")),
                m.get("fallback") instanceof Strategy st ? st : Strategy.parse(String.valueOf(m.get("fallback"))));
    }

    /** The parameters by recipe name, for provenance and {@code --explain}. */
    public Map<String, Object> asMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("average_over", averageOver.name().toLowerCase(Locale.ROOT));
        m.put("fisher_floor", fisherFloor);
        m.put("normalize_fishers", normalizeFishers);
        m.put("favor_base", favorBase);
        m.put("base_weight", baseWeight);
        m.put("base_fisher_value", baseFisherValue);
        m.put("lambda", lambda);
        m.put("density", density);
        m.put("drop_rate", dropRate);
        m.put("seed", seed);
        m.put("beta", beta);
        m.put("byzantine", byzantine);
        m.put("select", select);
        m.put("clip_norm", clipNorm);
        m.put("clip_scope", clipScope.name().toLowerCase(Locale.ROOT));
        m.put("step_size", stepSize);
        m.put("alpha", alpha);
        m.put("fallback", fallback.id());
        return m;
    }

    private static double number(String name, Object v) {
        if (v instanceof Number n) {
            return n.doubleValue();
        }
        if (v instanceof String s) {
            try {
                return Double.parseDouble(s.trim());
            } catch (NumberFormatException e) {
                // fall through to the error below
            }
        }
        throw new InvalidInputException("parameter '" + name + "' must be a number, got '" + v + "'");
    }

    private static long integer(String name, Object v) {
        double d = number(name, v);
        if (d != Math.rint(d) || Math.abs(d) > 1L << 53) {
            throw new InvalidInputException("parameter '" + name + "' must be an integer, got '" + v + "'");
        }
        return (long) d;
    }

    private static boolean bool(String name, Object v) {
        if (v instanceof Boolean b) {
            return b;
        }
        if (v instanceof String s && (s.equalsIgnoreCase("true") || s.equalsIgnoreCase("false"))) {
            return Boolean.parseBoolean(s);
        }
        throw new InvalidInputException("parameter '" + name + "' must be true or false, got '" + v + "'");
    }

    private static <E extends Enum<E>> E enumValue(Class<E> type, String name, Object v) {
        if (v instanceof String s) {
            for (E e : type.getEnumConstants()) {
                if (e.name().equalsIgnoreCase(s.trim())) {
                    return e;
                }
            }
        }
        StringBuilder known = new StringBuilder();
        for (E e : type.getEnumConstants()) {
            known.append(known.isEmpty() ? "" : ", ").append(e.name().toLowerCase(Locale.ROOT));
        }
        throw new InvalidInputException("parameter '" + name + "' must be one of " + known + ", got '" + v + "'");
    }
}
