package dev.merit.codec;

import dev.merit.delta.SparseTensorDelta;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A decoded delta: sparse positions and values, or low-rank factors. */
public sealed interface DecodedDelta {

    DeltaHeader header();

    /** Applies the change to {@code tensor} (the tensor's bytes in its own dtype). */
    void applyInPlace(MemorySegment tensor);

    /** The change as a sparse delta (low-rank factors are expanded to every entry). */
    SparseTensorDelta toSparse(Arena arena);

    record Sparse(DeltaHeader header, SparseTensorDelta delta) implements DecodedDelta {
        @Override
        public void applyInPlace(MemorySegment tensor) {
            delta.applyInPlace(tensor);
        }

        @Override
        public SparseTensorDelta toSparse(Arena arena) {
            return delta;
        }
    }

    record LowRank(DeltaHeader header, LowRankDelta delta) implements DecodedDelta {
        @Override
        public void applyInPlace(MemorySegment tensor) {
            delta.applyInPlace(tensor);
        }

        @Override
        public SparseTensorDelta toSparse(Arena arena) {
            return delta.toSparse(arena);
        }
    }
}
