package dev.merit.remote;

import dev.merit.error.InvalidInputException;

/** The version to propose has the same weights as its base: there is no change to send. */
public final class NothingToProposeException extends InvalidInputException {

    public NothingToProposeException(String message) {
        super(message);
    }
}
