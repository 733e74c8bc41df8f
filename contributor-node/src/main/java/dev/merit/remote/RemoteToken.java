package dev.merit.remote;

import java.time.Instant;
import java.util.Optional;

/**
 * A token as a coordinator lists it, without the token itself.
 *
 * @param id the first 8 hex digits of the token's hash: names it for {@code merit token revoke}, reveals nothing
 */
public record RemoteToken(String id, String name, RemoteIdentity.Role role, Instant created, Optional<Instant> expires,
                          Optional<Instant> revoked, Optional<String> revokedBy) {

    /** "active", "expired" or "revoked", at {@code now}. */
    public String state(Instant now) {
        return revoked.isPresent() ? "revoked" : expires.filter(e -> !now.isBefore(e)).isPresent() ? "expired" : "active";
    }
}
