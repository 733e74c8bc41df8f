package dev.merit.coordinator.validate;

import dev.merit.error.InvalidInputException;

/**
 * Bounds a proposal must stay within.
 *
 * @param maxTensorNorm      largest L2 norm of one tensor's change
 * @param maxTotalNorm       largest L2 norm of the whole change
 * @param minDensity         smallest fraction of the model's entries changed
 * @param maxDensity         largest fraction of the model's entries changed
 * @param stalenessLimit     largest distance (versions) from the base to the head
 * @param stalenessExponent  a in the staleness weight (1 + s)^-a
 * @param maxPayloadBytes    largest payload a proposal may declare
 * @param requireFisher      refuse proposals without a Fisher (the merge strategy needs one)
 * @param requireGram        refuse proposals without a Gram matrix for every linear layer (regmean needs them)
 */
public record ValidationConfig(double maxTensorNorm, double maxTotalNorm, double minDensity, double maxDensity,
                               int stalenessLimit, double stalenessExponent, long maxPayloadBytes, boolean requireFisher,
                               boolean requireGram) {

    public ValidationConfig(double maxTensorNorm, double maxTotalNorm, double minDensity, double maxDensity,
                            int stalenessLimit, double stalenessExponent, long maxPayloadBytes, boolean requireFisher) {
        this(maxTensorNorm, maxTotalNorm, minDensity, maxDensity, stalenessLimit, stalenessExponent, maxPayloadBytes, requireFisher, false);
    }

    public ValidationConfig {
        if (!(maxTensorNorm > 0) || !(maxTotalNorm > 0)) {
            throw new InvalidInputException("norm bounds must be > 0, got " + maxTensorNorm + " and " + maxTotalNorm);
        }
        if (!(minDensity >= 0 && minDensity <= maxDensity && maxDensity <= 1)) {
            throw new InvalidInputException("density bounds must satisfy 0 <= min <= max <= 1, got [" + minDensity + ", " + maxDensity + "]");
        }
        if (stalenessLimit < 0 || !(stalenessExponent >= 0)) {
            throw new InvalidInputException("staleness limit must be >= 0 and exponent >= 0, got " + stalenessLimit + " and " + stalenessExponent);
        }
        if (maxPayloadBytes <= 0) {
            throw new InvalidInputException("payload limit must be > 0, got " + maxPayloadBytes);
        }
    }

    /** No norm bound, any density, staleness limit 10 with a = 0.5, payloads up to 8 GiB. */
    public static ValidationConfig defaults() {
        return new ValidationConfig(Double.POSITIVE_INFINITY, Double.POSITIVE_INFINITY, 0, 1, 10, 0.5, 8L << 30, false);
    }

    public ValidationConfig withNorms(double perTensor, double total) {
        return new ValidationConfig(perTensor, total, minDensity, maxDensity, stalenessLimit, stalenessExponent, maxPayloadBytes, requireFisher, requireGram);
    }

    public ValidationConfig withDensity(double min, double max) {
        return new ValidationConfig(maxTensorNorm, maxTotalNorm, min, max, stalenessLimit, stalenessExponent, maxPayloadBytes, requireFisher, requireGram);
    }

    public ValidationConfig withStaleness(int limit, double exponent) {
        return new ValidationConfig(maxTensorNorm, maxTotalNorm, minDensity, maxDensity, limit, exponent, maxPayloadBytes, requireFisher, requireGram);
    }

    public ValidationConfig withRequireFisher(boolean on) {
        return new ValidationConfig(maxTensorNorm, maxTotalNorm, minDensity, maxDensity, stalenessLimit, stalenessExponent, maxPayloadBytes, on, requireGram);
    }

    public ValidationConfig withRequireGram(boolean on) {
        return new ValidationConfig(maxTensorNorm, maxTotalNorm, minDensity, maxDensity, stalenessLimit, stalenessExponent, maxPayloadBytes,
                requireFisher, on);
    }

    /** The weight (1 + s)^-a of a proposal s versions behind the head. */
    public double stalenessWeight(long s) {
        return Math.pow(1 + s, -stalenessExponent);
    }
}
