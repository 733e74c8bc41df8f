package dev.merit.remote;

import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.error.NotFoundException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;

/** A call the coordinator refused or that failed on the way, with the server's description. */
public class RemoteException extends MeritException {

    private final Status.Code code;

    RemoteException(String message, Status.Code code, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public Status.Code code() {
        return code;
    }

    /**
     * True if the call failed on the way rather than being refused: the coordinator was away,
     * slow, cut the call or failed inside, so the same call may pass later.
     */
    public boolean mayPassOnRetry() {
        return switch (code) {
            case UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED, ABORTED, UNKNOWN, INTERNAL -> true;
            default -> false;
        };
    }

    /** Keeps the CLI's exit codes meaningful: not found stays "not found", bad input stays "invalid input". */
    static MeritException of(String what, String target, StatusRuntimeException e) {
        return of(what, target, e, java.util.Optional.empty());
    }

    /** As above; {@code tls} (when known) says whether the channel spoke TLS, to explain a failed handshake. */
    static MeritException of(String what, String target, StatusRuntimeException e, java.util.Optional<Boolean> tls) {
        Status s = e.getStatus();
        String desc = s.getDescription() != null ? s.getDescription() : s.getCode().name();
        if (s.getCode() == Status.Code.UNAVAILABLE) {
            desc = TlsFailure.describe(e, desc, tls).orElse(desc);
        }
        String msg = what + " (" + target + "): " + desc + " [" + s.getCode() + "]";
        return switch (s.getCode()) {
            case NOT_FOUND -> new NotFound(msg, e);
            case INVALID_ARGUMENT -> new Invalid(msg, e);
            default -> new RemoteException(msg, s.getCode(), e);
        };
    }

    /** NOT_FOUND from the coordinator. */
    static final class NotFound extends NotFoundException {
        NotFound(String m, Throwable cause) {
            super(m);
            initCause(cause);
        }
    }

    /** INVALID_ARGUMENT from the coordinator. */
    static final class Invalid extends InvalidInputException {
        Invalid(String m, Throwable cause) {
            super(m, cause);
        }
    }
}
