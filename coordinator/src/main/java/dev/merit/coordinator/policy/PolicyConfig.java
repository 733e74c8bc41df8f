package dev.merit.coordinator.policy;

import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.Strategy;
import java.time.Duration;
import java.util.Objects;

/**
 * How and when to merge.
 *
 * @param policy     manual, auto or batch
 * @param strategy   the merge engine's strategy for combining a batch
 * @param parameters its parameters (step size eta included)
 * @param batchSize  batch: merge once this many proposals wait
 * @param batchDelay batch: merge once the oldest waiting proposal has waited this long
 * @param maxContributorShare the largest share of a batch's total weight one contributor's proposals may have
 *                   (weights are staleness weight x example count; larger shares are capped, see docs/merging.md)
 * @param serverMomentum beta of server momentum (FedAvgM): each merge moves the head by eta x v with v = beta v + D; 0 is off
 */
public record PolicyConfig(MergePolicy policy, Strategy strategy, MergeParameters parameters, int batchSize, Duration batchDelay,
                           double maxContributorShare, double serverMomentum) {

    public PolicyConfig {
        Objects.requireNonNull(policy);
        Objects.requireNonNull(strategy);
        Objects.requireNonNull(parameters);
        if (batchSize < 1) {
            throw new InvalidInputException("batch size must be >= 1, got " + batchSize);
        }
        if (batchDelay.isNegative() || batchDelay.isZero()) {
            throw new InvalidInputException("batch delay must be > 0, got " + batchDelay);
        }
        if (!(maxContributorShare > 0 && maxContributorShare <= 1)) {
            throw new InvalidInputException("max contributor share must be in (0, 1], got " + maxContributorShare);
        }
        if (!(serverMomentum >= 0 && serverMomentum < 1)) {
            throw new InvalidInputException("server momentum must be in [0, 1), got " + serverMomentum);
        }
    }

    /** Auto policy, weighted average (each proposal alone, so its change is applied as sent). */
    public static PolicyConfig defaults() {
        return new PolicyConfig(MergePolicy.AUTO, Strategy.AVERAGE, MergeParameters.defaults(), 8, Duration.ofSeconds(30), 0.5, 0);
    }

    public PolicyConfig withPolicy(MergePolicy p) {
        return new PolicyConfig(p, strategy, parameters, batchSize, batchDelay, maxContributorShare, serverMomentum);
    }

    public PolicyConfig withStrategy(Strategy s) {
        return new PolicyConfig(policy, s, parameters, batchSize, batchDelay, maxContributorShare, serverMomentum);
    }

    public PolicyConfig withParameters(MergeParameters p) {
        return new PolicyConfig(policy, strategy, p, batchSize, batchDelay, maxContributorShare, serverMomentum);
    }

    public PolicyConfig withBatch(int size, Duration delay) {
        return new PolicyConfig(policy, strategy, parameters, size, delay, maxContributorShare, serverMomentum);
    }

    /** Caps one contributor's share of a batch's total weight (1 turns the cap off). */
    public PolicyConfig withMaxContributorShare(double share) {
        return new PolicyConfig(policy, strategy, parameters, batchSize, batchDelay, share, serverMomentum);
    }

    /** Server momentum beta (FedAvgM); 0 turns it off. */
    public PolicyConfig withServerMomentum(double beta) {
        return new PolicyConfig(policy, strategy, parameters, batchSize, batchDelay, maxContributorShare, beta);
    }
}
