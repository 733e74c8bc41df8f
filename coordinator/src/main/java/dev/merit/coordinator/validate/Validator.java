package dev.merit.coordinator.validate;

import dev.merit.wire.ProposalSpec;

/** A check that needs only the proposal's header; runs before any payload byte is read. */
@FunctionalInterface
public interface Validator {

    /** A result saying what passed, or a {@link Rejection} naming what is wrong. */
    CheckResult check(ProposalSpec spec) throws Rejection;
}
