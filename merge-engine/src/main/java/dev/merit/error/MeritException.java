package dev.merit.error;

/**
 * Base of Merit's domain errors. The message is one line meant for the user: it names what was
 * wrong and where (file, tensor, offset, field). Subclasses tell the CLI which exit code to use
 * and the coordinator which gRPC status.
 */
public class MeritException extends RuntimeException {

    public MeritException(String message) {
        super(message);
    }

    public MeritException(String message, Throwable cause) {
        super(message, cause);
    }
}
