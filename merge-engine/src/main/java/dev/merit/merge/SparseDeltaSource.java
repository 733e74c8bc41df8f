package dev.merit.merge;

import dev.merit.delta.SparseTensorDelta;
import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.Set;

/**
 * A sparse change to a whole model, one {@link SparseTensorDelta} per touched tensor, as stored
 * proposals are. The merge asks for each tensor when it reaches it and calls {@link #release}
 * when done with it, so an implementation can decode tensors lazily and free them one by one.
 */
public interface SparseDeltaSource {

    /** Names of the tensors this delta touches; others are untouched (no opinion). */
    Set<String> tensorNames();

    /** The change to {@code tensor}, valid until {@link #release}; empty if untouched. */
    Optional<SparseTensorDelta> delta(String tensor);

    /**
     * Diagonal Fisher on the delta's support: {@code count} float32 little-endian values in the
     * order of the delta's positions; empty if this input has no Fisher for the tensor.
     */
    default Optional<MemorySegment> fisher(String tensor) {
        return Optional.empty();
    }

    /** Whether {@link #fisher} answers for every touched tensor. */
    default boolean hasFisher() {
        return false;
    }

    /** Called when the merge no longer needs {@code tensor}'s delta or Fisher. */
    default void release(String tensor) {}

    /** Where the delta comes from, for messages. */
    String describe();
}
