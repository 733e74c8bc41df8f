package dev.merit.merge;

import dev.merit.tensor.TensorSource;
import java.util.Objects;

/**
 * One input of a merge: a full model, a dense delta against the base, or a sparse delta, with
 * its weight (lambda) and optional diagonal Fisher. The merge does not close the sources.
 *
 * @param label  how messages and statistics name the input (a path, a revision, "models[2]")
 * @param kind   what {@code source} or {@code sparse} holds
 * @param source the model or dense delta ({@link Kind#MODEL}, {@link Kind#DELTA}); null for sparse inputs
 * @param sparse the sparse delta ({@link Kind#SPARSE}); null otherwise
 * @param weight lambda_i, finite
 * @param fisher dense diagonal Fisher with the model's tensor names and shapes, or null (sparse inputs carry theirs)
 * @param gram   Gram matrices of the linear layers' inputs for {@link Strategy#REGMEAN}, or null: one tensor
 *               per layer, named like the layer's weight, in the format {@link GramMatrix} reads
 */
public record MergeInput(String label, Kind kind, TensorSource source, SparseDeltaSource sparse,
                         double weight, TensorSource fisher, TensorSource gram) {

    public enum Kind {
        /** Full weights; the change is {@code model - base} (or the model itself without a base). */
        MODEL,
        /** Dense change against the base, same names and shapes as the base. */
        DELTA,
        /** Sparse change against the base (ADD or SET semantics), optionally with Fisher on its support. */
        SPARSE
    }

    public MergeInput {
        Objects.requireNonNull(label, "label");
        Objects.requireNonNull(kind, "kind");
        if ((kind == Kind.SPARSE) != (sparse != null) || (kind != Kind.SPARSE) != (source != null)) {
            throw new IllegalArgumentException(label + ": source does not match kind " + kind);
        }
        if (!Double.isFinite(weight)) {
            throw new IllegalArgumentException(label + ": weight " + weight + " is not finite");
        }
    }

    public static MergeInput model(String label, TensorSource model) {
        return new MergeInput(label, Kind.MODEL, model, null, 1.0, null, null);
    }

    public static MergeInput delta(String label, TensorSource delta) {
        return new MergeInput(label, Kind.DELTA, delta, null, 1.0, null, null);
    }

    public static MergeInput sparse(String label, SparseDeltaSource delta) {
        return new MergeInput(label, Kind.SPARSE, null, delta, 1.0, null, null);
    }

    public MergeInput withWeight(double w) {
        return new MergeInput(label, kind, source, sparse, w, fisher, gram);
    }

    public MergeInput withFisher(TensorSource f) {
        return new MergeInput(label, kind, source, sparse, weight, f, gram);
    }

    /** With the Gram matrices {@code g} of this model's linear-layer inputs (for regmean). */
    public MergeInput withGram(TensorSource g) {
        return new MergeInput(label, kind, source, sparse, weight, fisher, g);
    }

    boolean hasFisher() {
        return kind == Kind.SPARSE ? sparse.hasFisher() : fisher != null;
    }
}
