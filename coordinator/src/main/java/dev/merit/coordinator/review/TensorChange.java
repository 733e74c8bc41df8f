package dev.merit.coordinator.review;

/**
 * One tensor of a proposal's change.
 *
 * @param tensor   the tensor's name
 * @param numel    entries of the tensor
 * @param entries  entries the proposal changes
 * @param norm     L2 norm of the change
 * @param baseNorm L2 norm of the tensor in the proposal's base version
 * @param maxAbs   largest |change|
 */
public record TensorChange(String tensor, long numel, long entries, double norm, double baseNorm, double maxAbs) {

    public double density() {
        return numel == 0 ? 0 : (double) entries / numel;
    }

    /** L2 of the change over L2 of the base tensor; NaN when the base tensor is zero. */
    public double relativeChange() {
        return baseNorm == 0 ? Double.NaN : norm / baseNorm;
    }
}
