package dev.merit.delta;

import java.util.List;

/**
 * The entries a {@link Sparsifier} kept: one SET delta per input tensor (in input order, possibly
 * with no entries) holding the new values at the kept positions.
 *
 * @param deltas    one delta per tensor, segments allocated in the caller's arena
 * @param kept      entries kept over all tensors
 * @param changed   entries eligible to be kept: non-zero changes (every bit difference for
 *                  {@link Sparsifier#allChanges()})
 * @param threshold the |change| cut: kept entries have |change| above it, or equal to it for
 *                  top-k ties; 0 for {@link Sparsifier#allChanges()}
 * @param keptL2    L2 norm of the kept finite changes
 * @param changeL2  L2 norm of all finite changes
 */
public record SparsifyResult(List<SparseTensorDelta> deltas, long kept, long changed, double threshold,
                             double keptL2, double changeL2) {

    public SparsifyResult {
        deltas = List.copyOf(deltas);
    }

    /** {@code keptL2 / changeL2}: the share of the change's norm the kept entries carry; 1 when nothing changed. */
    public double keptNormFraction() {
        return changeL2 == 0 ? 1 : keptL2 / changeL2;
    }
}
