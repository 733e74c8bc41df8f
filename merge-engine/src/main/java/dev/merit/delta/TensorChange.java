package dev.merit.delta;

/**
 * How one tensor differs between two versions.
 *
 * <p>A change is {@code after - before}, computed in double from the decoded values. Entries count
 * as changed when their bit patterns differ, so {@code -0.0 -> 0.0} or a new NaN payload is a
 * change even though its value is zero or undefined. A change that is NaN or infinite (either
 * side non-finite, or an F64 overflow) is counted in {@link #changed} and in {@link #nonFinite}
 * and left out of {@link #changeL2} and {@link #maxAbsChange}, which therefore describe the
 * finite part of the change; non-finite entries of the old tensor are likewise left out of
 * {@link #beforeL2}.
 *
 * @param name         the tensor
 * @param numel        number of entries
 * @param changed      entries whose bit patterns differ
 * @param nonFinite    changed entries whose change is NaN or infinite
 * @param changeL2     L2 norm of the finite changes
 * @param beforeL2     L2 norm of the finite entries of the old tensor
 * @param maxAbsChange largest finite |change|, 0 if none
 */
public record TensorChange(String name, long numel, long changed, long nonFinite,
                           double changeL2, double beforeL2, double maxAbsChange) {

    /** Changed entries over all entries; 0 for an empty tensor. */
    public double changedFraction() {
        return numel == 0 ? 0 : (double) changed / numel;
    }

    /** {@code changeL2 / beforeL2}: 0 if both are 0, infinite if only the old norm is 0. */
    public double relativeNorm() {
        return relativeNorm(changeL2, beforeL2);
    }

    static double relativeNorm(double change, double before) {
        if (change == 0) {
            return 0;
        }
        return before == 0 ? Double.POSITIVE_INFINITY : change / before;
    }
}
