package dev.merit.coordinator.validate;

/** A proposal failed a check; {@code check} names the validator, the message says what was wrong. */
public final class Rejection extends Exception {

    private final String check;

    public Rejection(String check, String message) {
        super(message, null, false, false);
        this.check = check;
    }

    public String check() {
        return check;
    }
}
