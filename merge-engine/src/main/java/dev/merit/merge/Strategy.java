package dev.merit.merge;

import dev.merit.error.InvalidInputException;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * How the inputs' changes to one tensor are combined. Every strategy computes a merged change
 * {@code D} relative to the base; the output is {@code base + step_size * D}. The formulas are in
 * {@code docs/merging.md}.
 */
public enum Strategy {
    /** Weighted mean of the models (or deltas), over all inputs or over those that touched each entry. */
    AVERAGE("average", false, false),
    /** Fisher-weighted mean (Matena &amp; Raffel) with floor, normalization and "favor the base". */
    FISHER("fisher", false, true),
    /** {@code lambda * sum_i w_i d_i}. */
    TASK_ARITHMETIC("task-arithmetic", true, false),
    /** Trim each delta to its top {@code density}, elect a sign by mass, average the agreeing entries. */
    TIES("ties", true, false),
    /** Drop entries with probability {@code drop_rate}, rescale by {@code 1/(1-p)}, then sum; seeded. */
    DARE("dare", true, false),
    /** Coordinate-wise median. */
    MEDIAN("median", false, false),
    /** Coordinate-wise mean after dropping the {@code beta} fraction at each end. */
    TRIMMED_MEAN("trimmed-mean", false, false),
    /** The single input closest to its neighbours (Blanchard et al.). */
    KRUM("krum", false, false),
    /** Weighted mean of the {@code select} inputs with the best Krum scores. */
    MULTI_KRUM("multi-krum", false, false),
    /** Keeps the base's values: for per-tensor rules that freeze some tensors. */
    BASE("base", true, false),
    /**
     * Per linear layer, the least-squares merge of the layers' outputs on each input's data (Jin
     * et al.): {@code W = (sum_i G_i')^-1 sum_i G_i' W_i} from each input's Gram matrix; other
     * tensors by the {@code fallback} strategy.
     */
    REGMEAN("regmean", false, false);

    private final String id;
    private final boolean needsBase;
    private final boolean needsFisher;

    Strategy(String id, boolean needsBase, boolean needsFisher) {
        this.id = id;
        this.needsBase = needsBase;
        this.needsFisher = needsFisher;
    }

    /** The name used in recipes and on the command line, e.g. {@code "task-arithmetic"}. */
    public String id() {
        return id;
    }

    /** True if the strategy only makes sense for changes against a base. */
    public boolean needsBase() {
        return needsBase;
    }

    /** True if every input must come with a diagonal Fisher. */
    public boolean needsFisher() {
        return needsFisher;
    }

    boolean isKrum() {
        return this == KRUM || this == MULTI_KRUM;
    }

    /** Parses a strategy name (case-insensitive, '_' and '-' equivalent). */
    public static Strategy parse(String name) {
        String n = name.trim().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        for (Strategy s : values()) {
            if (s.id.equals(n)) {
                return s;
            }
        }
        if (n.equals("linear") || n.equals("mean")) {
            return AVERAGE;
        }
        throw new InvalidInputException("unknown strategy '" + name + "' (known: "
                + Arrays.stream(values()).map(Strategy::id).collect(Collectors.joining(", ")) + ")");
    }

    @Override
    public String toString() {
        return id;
    }
}
