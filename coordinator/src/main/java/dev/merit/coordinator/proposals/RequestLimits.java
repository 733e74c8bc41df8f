package dev.merit.coordinator.proposals;

import dev.merit.error.InvalidInputException;

/**
 * Bounds on what one request may make the coordinator store or send, so one contributor cannot
 * bloat everyone's listings or flood the service.
 *
 * @param maxMessageChars  longest proposal or review message, in characters
 * @param pushesPerMinute  pushes one contributor may start per minute (a burst of that many, refilled evenly)
 * @param maxPageSize      most proposals one listing returns; the rest come in further pages
 */
public record RequestLimits(int maxMessageChars, int pushesPerMinute, int maxPageSize) {

    public RequestLimits {
        if (maxMessageChars < 1 || pushesPerMinute < 1 || maxPageSize < 1) {
            throw new InvalidInputException("request limits must be >= 1, got message " + maxMessageChars + " chars, "
                    + pushesPerMinute + " pushes/min, page " + maxPageSize);
        }
    }

    /** Messages up to 4,096 characters, 120 pushes a minute per contributor, pages of up to 500. */
    public static RequestLimits defaults() {
        return new RequestLimits(4096, 120, 500);
    }

    /** Refuses {@code text} (named {@code field}) when longer than the message limit. */
    public void checkMessage(String field, String text) {
        if (text != null && text.length() > maxMessageChars) {
            throw new InvalidInputException(field + ": " + text.length() + " characters; the limit is " + maxMessageChars);
        }
    }
}
