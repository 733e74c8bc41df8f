package dev.merit.delta;

import dev.merit.tensor.TensorInfo;
import java.util.List;

/**
 * How a whole model differs between two versions: one {@link TensorChange} per tensor present in
 * both with the same dtype and shape (in the old version's order), the names of tensors added and
 * removed, and the tensors whose dtype or shape changed (which have no per-entry change). Totals
 * cover the compared tensors; norms combine as the square root of the summed squares.
 *
 * @param tensors       per-tensor changes, in the old version's order
 * @param added         names only in the new version, in its order
 * @param removed       names only in the old version, in its order
 * @param layoutChanged tensors in both versions whose dtype or shape differ
 */
public record ChangeSummary(List<TensorChange> tensors, List<String> added, List<String> removed,
                            List<LayoutChange> layoutChanged) {

    /** A tensor whose dtype or shape is not the same in both versions. */
    public record LayoutChange(TensorInfo before, TensorInfo after) {}

    public ChangeSummary {
        tensors = List.copyOf(tensors);
        added = List.copyOf(added);
        removed = List.copyOf(removed);
        layoutChanged = List.copyOf(layoutChanged);
    }

    /** True if the versions have the same tensors, layouts and bits. */
    public boolean identical() {
        return added.isEmpty() && removed.isEmpty() && layoutChanged.isEmpty() && changed() == 0;
    }

    public long numel() {
        return tensors.stream().mapToLong(TensorChange::numel).sum();
    }

    public long changed() {
        return tensors.stream().mapToLong(TensorChange::changed).sum();
    }

    public long nonFinite() {
        return tensors.stream().mapToLong(TensorChange::nonFinite).sum();
    }

    public double changedFraction() {
        long n = numel();
        return n == 0 ? 0 : (double) changed() / n;
    }

    public double changeL2() {
        return Math.sqrt(tensors.stream().mapToDouble(t -> t.changeL2() * t.changeL2()).sum());
    }

    public double beforeL2() {
        return Math.sqrt(tensors.stream().mapToDouble(t -> t.beforeL2() * t.beforeL2()).sum());
    }

    /** {@code changeL2() / beforeL2()}, with the same conventions as {@link TensorChange#relativeNorm()}. */
    public double relativeNorm() {
        return TensorChange.relativeNorm(changeL2(), beforeL2());
    }

    public double maxAbsChange() {
        return tensors.stream().mapToDouble(TensorChange::maxAbsChange).max().orElse(0);
    }
}
