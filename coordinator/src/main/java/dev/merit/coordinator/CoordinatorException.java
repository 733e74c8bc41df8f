package dev.merit.coordinator;

import dev.merit.error.MeritException;
import java.util.Objects;

/**
 * A request the coordinator refuses for a reason other than bad input or a missing object
 * (those stay {@link dev.merit.error.InvalidInputException} and
 * {@link dev.merit.error.NotFoundException}). The kind picks the gRPC status in one place.
 */
public final class CoordinatorException extends MeritException {

    /** Why the request was refused. */
    public enum Kind { UNAUTHENTICATED, PERMISSION_DENIED, ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED, RESOURCE_EXHAUSTED }

    private final Kind kind;

    public CoordinatorException(Kind kind, String message) {
        super(message);
        this.kind = Objects.requireNonNull(kind);
    }

    public Kind kind() {
        return kind;
    }
}
