package dev.merit.remote;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * A proposal as the coordinator stored it: its verdict, every validator's result and the
 * figures the merge weighs it by.
 *
 * @param baseVersion     commit id (hex) the delta was computed against
 * @param staleness       head version number minus the base's when it arrived
 * @param stalenessWeight the factor its merge weight is multiplied by for staleness
 * @param entries         changed coordinates
 * @param density         entries over the changed tensors' sizes
 * @param norm            L2 norm of the delta
 * @param mergedIn        the commit that merged it, once merged
 * @param review          a maintainer's decision, once reviewed
 * @param signingKey      fingerprint of the contributor's key that signed it (accepted proposals)
 * @param signature       that Ed25519 signature of the digest, in hex, to verify with that key
 */
public record RemoteProposal(String id, String branch, String contributor, String baseVersion, Status status,
                             List<String> reasons, List<Check> checks, String digest, long staleness, double stalenessWeight,
                             long exampleCount, boolean hasFisher, long entries, double density, double norm, long payloadBytes,
                             String message, Instant created, Optional<String> mergedIn, Optional<String> review,
                             Optional<String> signingKey, Optional<String> signature) {

    public enum Status {
        /** Passed validation; waits for the merge policy or a maintainer. */
        ACCEPTED,
        REJECTED,
        MERGED
    }

    /** One validator's verdict. */
    public record Check(String name, boolean passed, String detail) {}

    public RemoteProposal {
        reasons = List.copyOf(reasons);
        checks = List.copyOf(checks);
    }
}
