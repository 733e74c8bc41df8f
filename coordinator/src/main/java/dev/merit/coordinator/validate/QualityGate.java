package dev.merit.coordinator.validate;

import java.util.Objects;

/**
 * Rejects a proposal whose candidate model (head + delta) scores more than {@code margin} below
 * the head on {@code evaluator}.
 */
public record QualityGate(Evaluator evaluator, double margin) {

    public QualityGate {
        Objects.requireNonNull(evaluator, "evaluator");
        if (!(margin >= 0)) {
            throw new IllegalArgumentException("margin must be >= 0, got " + margin);
        }
    }

    /** Passes, or throws a {@link Rejection} naming both scores. */
    public CheckResult check(double headScore, double candidateScore) throws Rejection {
        String detail = String.format("%s: %.6g -> %.6g (margin %.3g)", evaluator.describe(), headScore, candidateScore, margin);
        if (!(candidateScore >= headScore - margin)) {
            throw new Rejection("quality", "score drops " + detail);
        }
        return CheckResult.pass("quality", detail);
    }
}
