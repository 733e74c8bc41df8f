package dev.merit.coordinator.validate;

import dev.merit.wire.ProposalSpec;
import java.util.Optional;
import java.util.function.Function;

/** Refuses a proposal whose digest an earlier one already has (the same change sent twice). */
public final class DuplicateCheck implements Validator {

    private final Function<String, Optional<String>> proposalWithDigest;

    /** {@code proposalWithDigest} maps a digest (hex) to the id of the stored proposal that has it. */
    public DuplicateCheck(Function<String, Optional<String>> proposalWithDigest) {
        this.proposalWithDigest = proposalWithDigest;
    }

    @Override
    public CheckResult check(ProposalSpec spec) throws Rejection {
        Optional<String> dup = proposalWithDigest.apply(spec.digestHex());
        if (dup.isPresent()) {
            throw new Rejection("duplicate", "same digest as proposal " + dup.get() + " (" + spec.digestHex().substring(0, 12) + ")");
        }
        return CheckResult.pass("duplicate", "digest not seen before");
    }
}
