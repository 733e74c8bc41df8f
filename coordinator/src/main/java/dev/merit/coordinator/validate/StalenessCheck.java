package dev.merit.coordinator.validate;

import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.store.ObjectId;
import dev.merit.wire.ProposalSpec;

/**
 * The base is in the branch's history and at most the limit of versions behind its head; checked
 * on the header and again once the payload is in, since the head may move during an upload.
 */
public final class StalenessCheck implements Validator, PayloadValidator {

    /** How far a base is behind a branch's head, in versions; throws if the base is not in its history. */
    @FunctionalInterface
    public interface Distances {
        long behindHead(ObjectId base, String branch);
    }

    private final Distances distances;
    private final ValidationConfig config;

    public StalenessCheck(Distances distances, ValidationConfig config) {
        this.distances = distances;
        this.config = config;
    }

    /** Versions between the proposal's base and its branch's head. */
    public long staleness(ProposalSpec spec) throws Rejection {
        ObjectId base;
        try {
            base = ObjectId.fromString(spec.baseVersion());
        } catch (RuntimeException e) {
            throw new Rejection("staleness", "base version '" + spec.baseVersion() + "' is not a commit id");
        }
        try {
            return distances.behindHead(base, spec.branch());
        } catch (InvalidInputException | NotFoundException e) {
            throw new Rejection("staleness", e.getMessage());
        }
    }

    @Override
    public CheckResult check(ProposalSpec spec) throws Rejection {
        long s = staleness(spec);
        if (s > config.stalenessLimit()) {
            throw new Rejection("staleness", "base version " + spec.baseVersion().substring(0, Math.min(12, spec.baseVersion().length()))
                    + " is " + s + " versions behind the head of '" + spec.branch() + "' (limit " + config.stalenessLimit() + ")");
        }
        return CheckResult.pass("staleness", s + " versions behind, weight " + String.format("%.4g", config.stalenessWeight(s)));
    }

    @Override
    public CheckResult check(ProposalSpec spec, Ingest.Summary summary, Payload payload) throws Rejection {
        long s = staleness(spec);
        if (s > config.stalenessLimit()) {
            throw new Rejection("staleness", "the head of '" + spec.branch() + "' moved during the upload: the base is now "
                    + s + " versions behind (limit " + config.stalenessLimit() + ")");
        }
        return null; // the header's verdict stands; nothing new to record
    }
}
