package dev.merit.store;

import java.lang.foreign.MemorySegment;

/**
 * Whether memory may be handed to the fork-join pool. A segment from a confined arena may be
 * touched only by the thread that made it; a parallel stream over it fails with
 * {@code WrongThreadException} whenever a pool worker steals a piece, which on a many-core
 * machine is most of the time and on two cores almost never.
 */
final class Confinement {

    /** A thread that never runs: a segment accessible by it is accessible by any thread. */
    private static final Thread ANY_OTHER = Thread.ofPlatform().unstarted(() -> {});

    private Confinement() {}

    static boolean shareable(MemorySegment segment) {
        return segment.isAccessibleBy(ANY_OTHER);
    }
}
