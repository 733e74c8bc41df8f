package dev.merit.store;

/** Outcome of moving a ref by compare-and-swap; a failed update is a result, not an exception. */
public enum RefUpdate {
    /** The ref did not exist and now does. */
    NEW,
    /** The ref moved from the expected value to the new one. */
    UPDATED,
    /** The ref already had the new value. */
    NO_CHANGE,
    /** The ref was deleted. */
    DELETED,
    /** The ref's current value was not the expected one: someone else moved it first. */
    LOCK_FAILURE;

    public boolean succeeded() {
        return this != LOCK_FAILURE;
    }
}
