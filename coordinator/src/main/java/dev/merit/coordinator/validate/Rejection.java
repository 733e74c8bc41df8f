package dev.merit.coordinator.validate;

/** A proposal failed a check; {@code check} names the validator, the message says what was wrong. */
public final class Rejection extends Exception {

    private final String check;

    /** Longest reason kept: a reason may quote input, and reasons are stored and listed. */
    public static final int MAX_REASON_CHARS = 1024;

    public Rejection(String check, String message) {
        super(bounded(message), null, false, false);
        this.check = check;
    }

    private static String bounded(String message) {
        return message.length() <= MAX_REASON_CHARS ? message
                : message.substring(0, MAX_REASON_CHARS) + "... (" + (message.length() - MAX_REASON_CHARS) + " more characters)";
    }

    public String check() {
        return check;
    }
}
