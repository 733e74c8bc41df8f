package dev.merit.remote;

import java.time.Instant;
import java.util.Optional;

/**
 * One of a contributor's signing keys as a coordinator keeps it: current, or superseded by a
 * rotation, or revoked. Proposals stored before a key was superseded or revoked stay verifiable
 * with it.
 *
 * @param publicKey  X.509 encoding
 * @param registered empty if it was registered before the coordinator kept key history
 */
public record RemoteKey(String contributor, String fingerprint, byte[] publicKey, Status status, Optional<Instant> registered,
                        Optional<Instant> supersededAt, Optional<String> supersededBy, Optional<Instant> revokedAt,
                        Optional<String> revokedBy) {

    public enum Status { CURRENT, SUPERSEDED, REVOKED }

    /** "current", "superseded at T by key F", "revoked at T by NAME". */
    public String describe() {
        return switch (status) {
            case CURRENT -> "current";
            case SUPERSEDED -> "superseded at " + supersededAt.map(Instant::toString).orElse("?") + " by key " + supersededBy.orElse("?");
            case REVOKED -> "revoked at " + revokedAt.map(Instant::toString).orElse("?") + " by " + revokedBy.orElse("?");
        };
    }
}
