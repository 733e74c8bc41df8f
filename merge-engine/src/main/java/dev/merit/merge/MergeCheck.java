package dev.merit.merge;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What a merge result would do to the model it replaces, checked before it is committed: how
 * many merged values are not finite (and the first of them), and the L2 norm of the change per
 * tensor and over the model (computed in double).
 *
 * @param nonFinite     merged values that are NaN or infinite
 * @param firstNonFinite where the first one is, e.g. {@code fc.weight[17] = Infinity}; empty if none
 * @param tensorNorms   L2 norm of (result - base) per changed floating-point tensor
 * @param totalNorm     L2 norm of (result - base) over the whole model
 */
public record MergeCheck(long nonFinite, String firstNonFinite, Map<String, Double> tensorNorms, double totalNorm) {

    public MergeCheck {
        tensorNorms = Collections.unmodifiableMap(new LinkedHashMap<>(tensorNorms));
    }

    /** A result given as changes to {@code base} (SET values, or ADD changes), as the sparse merge returns it. */
    public static MergeCheck ofChanges(TensorSource base, Map<String, SparseTensorDelta> changes) {
        Acc acc = new Acc();
        for (Map.Entry<String, SparseTensorDelta> e : changes.entrySet()) {
            SparseTensorDelta d = e.getValue();
            String name = e.getKey();
            MemorySegment b = base.data(name);
            DType bt = base.info(name).orElseThrow().dtype();
            boolean add = d.semantics() == SparseTensorDelta.Semantics.ADD;
            DType vt = d.valueType();
            double sq = 0;
            for (long k = 0; k < d.count(); k++) {
                long p = d.position(k);
                double before = bt.getDouble(b, p);
                double v = add ? before + d.values().getAtIndex(SparseTensorDelta.ADD_VALUE, k) : vt.getDouble(d.values(), k);
                if (add && bt != DType.F64) {
                    v = (float) v; // the stored result is rounded to the tensor's dtype
                }
                acc.value(name, p, v);
                double c = v - before;
                sq += c * c;
            }
            acc.tensor(name, sq);
        }
        return acc.done();
    }

    /** A result given as a whole model with the base's tensor names and shapes. */
    public static MergeCheck ofModel(TensorSource base, TensorSource merged) {
        Acc acc = new Acc();
        for (TensorInfo t : merged.tensors()) {
            if (!t.dtype().isFloatingPoint()) {
                continue;
            }
            MemorySegment m = merged.data(t.name());
            Optional<TensorInfo> bi = base.info(t.name());
            MemorySegment b = bi.isPresent() ? base.data(t.name()) : null;
            DType bt = bi.map(TensorInfo::dtype).orElse(null);
            double sq = 0;
            for (long i = 0; i < t.numel(); i++) {
                double v = t.dtype().getDouble(m, i);
                acc.value(t.name(), i, v);
                double c = v - (b == null ? 0 : bt.getDouble(b, i));
                sq += c * c;
            }
            if (sq != 0 || Double.isNaN(sq)) {
                acc.tensor(t.name(), sq);
            }
        }
        return acc.done();
    }

    /** True if every merged value is finite. */
    public boolean finite() {
        return nonFinite == 0;
    }

    /**
     * Why this result must not be committed, or empty: non-finite values, a tensor's change
     * above {@code maxTensorNorm}, or the whole change above {@code maxTotalNorm}.
     */
    public Optional<String> violation(double maxTensorNorm, double maxTotalNorm) {
        if (nonFinite > 0) {
            return Optional.of("the merged model would have " + nonFinite + " non-finite value" + (nonFinite == 1 ? "" : "s")
                    + " (first: " + firstNonFinite + ")");
        }
        for (Map.Entry<String, Double> e : tensorNorms.entrySet()) {
            if (!(e.getValue() <= maxTensorNorm)) {
                return Optional.of("the merge would change tensor '" + e.getKey() + "' by L2 norm " + e.getValue()
                        + ", above the limit " + maxTensorNorm);
            }
        }
        if (!(totalNorm <= maxTotalNorm)) {
            return Optional.of("the merge would change the model by L2 norm " + totalNorm + ", above the limit " + maxTotalNorm);
        }
        return Optional.empty();
    }

    private static final class Acc {
        long nonFinite;
        String first = "";
        final Map<String, Double> norms = new LinkedHashMap<>();
        double total;

        void value(String tensor, long index, double v) {
            if (!Double.isFinite(v)) {
                if (nonFinite++ == 0) {
                    first = tensor + "[" + index + "] = " + v;
                }
            }
        }

        void tensor(String name, double sq) {
            norms.put(name, Math.sqrt(sq));
            total += sq;
        }

        MergeCheck done() {
            return new MergeCheck(nonFinite, first, norms, Math.sqrt(total));
        }
    }
}
