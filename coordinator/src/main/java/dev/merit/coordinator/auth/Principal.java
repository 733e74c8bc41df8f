package dev.merit.coordinator.auth;

import dev.merit.coordinator.CoordinatorException;

/** Who is calling: the name a token was created for, and its role. */
public record Principal(String name, Role role) {

    /** Throws PERMISSION_DENIED unless this principal has at least {@code needed}, naming what it tried. */
    public void require(Role needed, String action) {
        if (!role.atLeast(needed)) {
            throw new CoordinatorException(CoordinatorException.Kind.PERMISSION_DENIED,
                    "'" + name + "' has role " + role.id() + "; " + action + " needs " + needed.id());
        }
    }
}
