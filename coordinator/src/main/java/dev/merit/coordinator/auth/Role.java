package dev.merit.coordinator.auth;

import dev.merit.error.InvalidInputException;
import java.util.Locale;

/** What a token may do; each role includes the ones before it. */
public enum Role {
    /** Fetch versions, read the log, watch, see its own proposals. */
    READER,
    /** Also push proposals and register its signing key. */
    CONTRIBUTOR,
    /** Also publish branches, review proposals, see every proposal and create tokens. */
    MAINTAINER;

    public boolean atLeast(Role other) {
        return compareTo(other) >= 0;
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Role parse(String s) {
        for (Role r : values()) {
            if (r.id().equalsIgnoreCase(s.trim())) {
                return r;
            }
        }
        throw new InvalidInputException("unknown role '" + s + "' (known: reader, contributor, maintainer)");
    }
}
