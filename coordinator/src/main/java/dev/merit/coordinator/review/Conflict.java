package dev.merit.coordinator.review;

/**
 * How a proposal's change meets another proposal's on the same branch: where both change the
 * same entries and whether they pull the same way. Merging two changes with a large overlap, low
 * sign agreement or negative cosine averages them towards nothing.
 *
 * @param other          the other proposal's id
 * @param contributor    its contributor
 * @param status         its status
 * @param overlap        entries both change
 * @param signAgreements entries of the overlap where both changes have the same sign
 * @param cosine         cosine between the two changes over the whole model (NaN if either is zero)
 * @param tensors        tensors both change
 */
public record Conflict(String other, String contributor, String status, long overlap, long signAgreements, double cosine,
                       java.util.List<String> tensors) {

    public Conflict {
        tensors = java.util.List.copyOf(tensors);
    }

    /** Fraction of the overlap with the same sign; NaN for an empty overlap. */
    public double signAgreement() {
        return overlap == 0 ? Double.NaN : (double) signAgreements / overlap;
    }

    /** Below this cosine two changes pull the model apart enough to flag (a few shared entries by chance stay near 0). */
    public static final double FIGHT_COSINE = -0.05;

    /**
     * True when merging the two would fight: they share entries and point apart over the whole
     * model. Sign agreement alone is not enough: on a small chance overlap it is noise.
     */
    public boolean fights() {
        return overlap > 0 && cosine < FIGHT_COSINE;
    }
}
