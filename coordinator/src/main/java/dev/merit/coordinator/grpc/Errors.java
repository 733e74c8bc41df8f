package dev.merit.coordinator.grpc;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.error.NotFoundException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.io.UncheckedIOException;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;

/** The one place domain exceptions become gRPC statuses, each with a description naming what was wrong. */
final class Errors {

    private static final Logger LOG = Logger.getLogger(Errors.class.getName());

    private Errors() {}

    static StatusRuntimeException toStatus(Throwable e) {
        if (e instanceof StatusRuntimeException s) {
            return s;
        }
        Status st = switch (e) {
            case CoordinatorException c -> switch (c.kind()) {
                case UNAUTHENTICATED -> Status.UNAUTHENTICATED;
                case PERMISSION_DENIED -> Status.PERMISSION_DENIED;
                case ALREADY_EXISTS -> Status.ALREADY_EXISTS;
                case FAILED_PRECONDITION -> Status.FAILED_PRECONDITION;
                case ABORTED -> Status.ABORTED;
            };
            case NotFoundException n -> Status.NOT_FOUND;
            case InvalidInputException i -> Status.INVALID_ARGUMENT;
            case MeritException m -> Status.INTERNAL;
            case UncheckedIOException io -> Status.INTERNAL;
            default -> {
                LOG.log(Level.WARNING, "unexpected error", e);
                yield Status.INTERNAL.withDescription("internal error: " + e);
            }
        };
        if (st.getDescription() == null) {
            st = st.withDescription(e.getMessage());
        }
        return st.withDescription(truncate(st.getDescription())).asRuntimeException();
    }

    /** Longest description sent: it travels in an HTTP/2 header, which clients cap at a few KiB. */
    static final int MAX_DESCRIPTION = 1000;

    /** Cuts a description that echoes a huge input (a name, a message) to {@link #MAX_DESCRIPTION} characters. */
    static String truncate(String d) {
        if (d == null || d.length() <= MAX_DESCRIPTION) {
            return d;
        }
        return d.substring(0, MAX_DESCRIPTION) + "... (" + (d.length() - MAX_DESCRIPTION) + " more characters)";
    }

    /** Runs a unary call: its value or its mapped error goes to {@code out}. */
    static <T> void unary(StreamObserver<T> out, Callable<T> call) {
        T value;
        try {
            value = call.call();
        } catch (Exception e) {
            out.onError(toStatus(e));
            return;
        }
        out.onNext(value);
        out.onCompleted();
    }
}
