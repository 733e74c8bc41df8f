package dev.merit.error;

/** Input that cannot be accepted: a malformed file, a value out of range, mismatched shapes. */
public class InvalidInputException extends MeritException {

    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
