package dev.merit.coordinator.validate;

import dev.merit.wire.ProposalSpec;

/** A check on a proposal whose payload has arrived whole (and passed the streaming checks of {@link Ingest}). */
@FunctionalInterface
public interface PayloadValidator {

    /**
     * A result saying what passed, null when a header check re-confirmed has nothing new to
     * record, or a {@link Rejection} naming what is wrong.
     */
    CheckResult check(ProposalSpec spec, Ingest.Summary summary, Payload payload) throws Rejection;

    /** The received payload bytes, in header order: each tensor's delta, then its Fisher. */
    @FunctionalInterface
    interface Payload {
        byte[] read(long offset, int length);
    }
}
