package dev.merit.delta;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * One tensor in two versions: the input of {@link ChangeStats} and {@link Sparsifier}. The
 * segments hold {@code info.byteSize()} little-endian bytes each and are only read. Segments
 * that other threads may access (mapped files, shared or global arenas) are scanned on both
 * cores; thread-confined ones are scanned on the calling thread.
 *
 * @param info   name, dtype and shape, the same in both versions
 * @param before the old values
 * @param after  the new values
 */
public record TensorPair(dev.merit.tensor.TensorInfo info, MemorySegment before, MemorySegment after) {

    public TensorPair {
        Objects.requireNonNull(info, "info");
        long size = info.byteSize();
        if (before.byteSize() != size || after.byteSize() != size) {
            throw new IllegalArgumentException("tensor '" + info.name() + "': expected " + size + " bytes, got "
                    + before.byteSize() + " before and " + after.byteSize() + " after");
        }
    }
}
