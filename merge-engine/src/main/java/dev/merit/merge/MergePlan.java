package dev.merit.merge;

import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * A validated merge: its inputs, rules and output tensors, checked before any tensor data is
 * read, plus the pool of per-thread {@link Block}s every pass borrows from. The passes
 * ({@link Scan}, {@link DensePass}, {@link SparseMerge}) and strategy helpers ({@link Ties},
 * {@link Krum}) read it; only {@link TensorSettings} writes the per-tensor settings it holds.
 */
final class MergePlan {

    final TensorSource base;
    final TensorSource baseFisher;
    final List<MergeInput> inputs;
    final int n;
    final Rule mainRule;
    final List<Rule> rules;
    final boolean statistics;
    final int threads;
    final int blockSize;
    final ProgressListener progress;
    final List<TensorCtx> tensors;
    private final ConcurrentLinkedDeque<Block> blocks = new ConcurrentLinkedDeque<>();

    /** Validates everything that can be checked without reading tensor data; throws {@link InvalidInputException} naming the input and tensor. */
    MergePlan(TensorSource base, TensorSource baseFisher, List<MergeInput> inputs, Rule mainRule, List<Rule> rules,
              DType outputDType, boolean statistics, int threads, int blockSize, ProgressListener progress) {
        this.base = base;
        this.baseFisher = baseFisher;
        this.inputs = List.copyOf(inputs);
        this.n = this.inputs.size();
        this.mainRule = mainRule;
        this.rules = List.copyOf(rules);
        this.statistics = statistics;
        this.threads = threads;
        this.blockSize = blockSize;
        this.progress = progress;
        this.tensors = validate(outputDType);
    }

    // ---------------------------------------------------------------- shared helpers

    /** The source that names the output's tensors: the base, or the first model without one. */
    TensorSource reference() {
        return base != null ? base : inputs.getFirst().source();
    }

    String refName() {
        return base != null ? "the base" : "the first model";
    }

    List<Rule> allRules() {
        List<Rule> all = new ArrayList<>(rules);
        all.add(mainRule);
        return all;
    }

    /** How messages name input {@code in}: its label, and where it comes from when that differs. */
    String who(MergeInput in) {
        String d = in.kind() == MergeInput.Kind.SPARSE ? in.sparse().describe() : in.source().describe();
        return "input '" + in.label() + "'" + (d.equals(in.label()) ? "" : " (" + d + ")");
    }

    static InvalidInputException bad(String msg) {
        return new InvalidInputException(msg);
    }

    /** Krum's f: the parameter, or (n - 3) / 2 when unset. */
    int byzantine(MergeParameters p) {
        return p.byzantine() >= 0 ? p.byzantine() : Math.max(0, (n - 3) / 2);
    }

    long totalBytes() {
        return tensors.stream().mapToLong(c -> c.out.byteSize()).sum();
    }

    /** A scratch block for the calling thread; give it back with {@link #release}. */
    Block borrow() {
        Block b = blocks.poll();
        return b != null ? b : new Block(n, blockSize);
    }

    void release(Block b) {
        blocks.push(b);
    }

    /** Whether any pass needs the per-tensor sums of {@link Scan} before merging. */
    boolean needsScan() {
        if (statistics) {
            return true;
        }
        for (Rule r : allRules()) {
            MergeParameters p = r.params();
            if (r.strategy().isKrum() || p.clipNorm() > 0 || r.strategy() == Strategy.FISHER && p.normalizeFishers()) {
                return true;
            }
        }
        return false;
    }

    /** Whether the scan computes pairwise sums (dots, overlaps): for statistics and Krum. */
    boolean needsPairs() {
        return statistics || allRules().stream().anyMatch(r -> r.strategy().isKrum());
    }

    // ---------------------------------------------------------------- validation

    private Rule ruleFor(String tensor) {
        for (Rule r : rules) {
            if (r.matches(tensor)) {
                return r;
            }
        }
        return mainRule;
    }

    private List<TensorCtx> validate(DType outputDType) {
        if (inputs.isEmpty()) {
            throw bad("nothing to merge: no inputs (field 'models')");
        }
        if (outputDType != null && !outputDType.isFloatingPoint()) {
            throw bad("output dtype " + outputDType + " is not a floating-point type (field 'dtype')");
        }
        if (base == null) {
            for (MergeInput in : inputs) {
                if (in.kind() != MergeInput.Kind.MODEL) {
                    throw bad(who(in) + " is a " + in.kind().name().toLowerCase(Locale.ROOT)
                            + " delta and needs a base (field 'base')");
                }
            }
        }
        List<Rule> used = new ArrayList<>();
        List<TensorCtx> ctxs = new ArrayList<>();
        Map<String, TensorInfo> refs = new LinkedHashMap<>();
        Map<Rule, Rule> fallbacks = new LinkedHashMap<>();
        boolean regmeanLayers = false;
        for (TensorInfo t : reference().tensors()) {
            Rule r = ruleFor(t.name());
            if (r.strategy() == Strategy.REGMEAN) {
                if (hasGrams(t)) {
                    regmeanLayers = true;
                } else {
                    r = fallbacks.computeIfAbsent(r, x -> Rule.of(x.pattern(), x.params().fallback(), x.params()));
                }
            }
            if (!used.contains(r)) {
                used.add(r);
            }
            DType outType = outputDType != null && t.dtype().isFloatingPoint() ? outputDType : t.dtype();
            ctxs.add(new TensorCtx(ctxs.size(), t, new TensorInfo(t.name(), outType, t.shape()), r));
            refs.put(t.name(), t);
        }
        for (Rule r : used) {
            checkRule(r);
        }
        if (!fallbacks.isEmpty() || regmeanLayers) {
            checkGrams(refs, regmeanLayers);
        }
        for (MergeInput in : inputs) {
            if (in.kind() == MergeInput.Kind.SPARSE) {
                for (String name : in.sparse().tensorNames()) {
                    if (!refs.containsKey(name)) {
                        throw bad(who(in) + ": tensor '" + name + "' is not in " + refName());
                    }
                }
            } else {
                checkSameTensors(who(in), in.source(), refs, in.kind() == MergeInput.Kind.MODEL);
            }
            if (in.fisher() != null) {
                checkFisher(who(in) + ": Fisher " + in.fisher().describe(), in.fisher(), refs);
            }
        }
        if (baseFisher != null) {
            checkFisher("base Fisher " + baseFisher.describe(), baseFisher, refs);
        }
        return ctxs;
    }

    private void checkRule(Rule r) {
        Strategy s = r.strategy();
        String where = r == mainRule ? "strategy '" + s.id() + "'" : "strategy '" + s.id() + "' (rule '" + r.pattern() + "')";
        double wSum = inputs.stream().mapToDouble(MergeInput::weight).sum();
        if (s.needsBase() && base == null) {
            throw bad(where + " needs a base (field 'base')");
        }
        if (s.needsFisher()) {
            for (MergeInput in : inputs) {
                if (!in.hasFisher()) {
                    throw bad(who(in) + ": " + where + " needs a Fisher for every model (field 'fisher')");
                }
            }
            if (r.params().favorBase()) {
                if (base == null) {
                    throw bad(where + ": favor_base needs a base (field 'base')");
                }
                if (baseFisher == null && Double.isNaN(r.params().baseFisherValue())) {
                    throw bad(where + ": favor_base needs the base's Fisher (field 'base_fisher' or parameter 'base_fisher_value')");
                }
            }
        }
        if ((s == Strategy.AVERAGE || s == Strategy.FISHER || s == Strategy.MULTI_KRUM || s == Strategy.REGMEAN) && !(wSum > 0)) {
            throw bad(where + ": the models' weights sum to " + wSum + ", must be > 0 (field 'weight')");
        }
        if (s.isKrum()) {
            int f = byzantine(r.params());
            if (n < 2 * f + 3) {
                throw bad(where + " with byzantine = " + f + " needs at least " + (2 * f + 3) + " models, got " + n);
            }
            if (s == Strategy.MULTI_KRUM && r.params().select() > n) {
                throw bad(where + ": select = " + r.params().select() + " exceeds the " + n + " models");
            }
        }
    }

    /**
     * Whether {@code t} is a linear layer's weight that regmean merges: 2-D, floating-point, and
     * some input has a Gram matrix for it (then every input must have one, of the right shape).
     */
    private boolean hasGrams(TensorInfo t) {
        if (t.shape().length != 2 || !t.dtype().isFloatingPoint()) {
            return false;
        }
        boolean any = inputs.stream().anyMatch(in -> GramMatrix.has(in.gram(), t.name()));
        if (!any) {
            return false;
        }
        for (MergeInput in : inputs) {
            if (in.gram() == null) {
                throw bad(who(in) + ": strategy 'regmean' needs the Gram matrices of every model (field 'gram')");
            }
            GramMatrix.check(who(in) + ": Gram file " + in.gram().describe(), in.gram(), t.name(), t.shape()[1]);
        }
        return true;
    }

    /** Every Gram matrix names a 2-D tensor of the model; some tensor is merged by regmean. */
    private void checkGrams(Map<String, TensorInfo> refs, boolean regmeanLayers) {
        for (MergeInput in : inputs) {
            if (in.gram() == null) {
                throw bad(who(in) + ": strategy 'regmean' needs the Gram matrices of every model (field 'gram')");
            }
            for (TensorInfo g : in.gram().tensors()) {
                TensorInfo t = refs.get(g.name());
                if (t == null || t.shape().length != 2) {
                    throw bad(who(in) + ": Gram file " + in.gram().describe() + ": matrix '" + g.name() + "' names "
                            + (t == null ? "no tensor of " + refName() : "tensor with shape " + t.shapeString() + ", not a linear layer's weight"));
                }
            }
            if (in.weight() < 0) {
                throw bad(who(in) + ": strategy 'regmean' needs weights >= 0, got " + in.weight() + " (field 'weight')");
            }
        }
        if (!regmeanLayers) {
            throw bad("strategy 'regmean': no Gram matrix matches a linear layer's weight, so nothing would be merged by regmean");
        }
    }

    private void checkSameTensors(String who, TensorSource src, Map<String, TensorInfo> refs, boolean sameDType) {
        for (TensorInfo ref : refs.values()) {
            TensorInfo t = src.info(ref.name()).orElseThrow(() ->
                    bad(who + ": no tensor '" + ref.name() + "' (" + refName() + " has it)"));
            if (!Arrays.equals(t.shape(), ref.shape())) {
                throw bad(who + ": tensor '" + ref.name() + "' has shape " + t.shapeString() + " but "
                        + refName() + " has " + ref.shapeString());
            }
            boolean ok = sameDType ? t.dtype() == ref.dtype() : t.dtype().isFloatingPoint() || !ref.dtype().isFloatingPoint();
            if (!ok) {
                throw bad(who + ": tensor '" + ref.name() + "' is " + t.dtype() + " but " + refName() + " has " + ref.dtype());
            }
        }
        for (TensorInfo t : src.tensors()) {
            if (!refs.containsKey(t.name())) {
                throw bad(who + ": tensor '" + t.name() + "' is not in " + refName());
            }
        }
    }

    private void checkFisher(String who, TensorSource fisher, Map<String, TensorInfo> refs) {
        for (TensorInfo ref : refs.values()) {
            if (!ref.dtype().isFloatingPoint()) {
                continue;
            }
            TensorInfo t = fisher.info(ref.name()).orElseThrow(() -> bad(who + ": no tensor '" + ref.name() + "'"));
            if (!Arrays.equals(t.shape(), ref.shape())) {
                throw bad(who + ": tensor '" + ref.name() + "' has shape " + t.shapeString()
                        + " but the model has " + ref.shapeString());
            }
            if (!t.dtype().isFloatingPoint()) {
                throw bad(who + ": tensor '" + ref.name() + "' is " + t.dtype() + ", must be a floating-point type");
            }
        }
    }
}
