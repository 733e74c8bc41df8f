package dev.merit.merge;

import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;

/**
 * Where merged tensors go. The merge asks for each tensor's writable bytes, fills them (possibly
 * from several threads, block by block), then reports the tensor done. A safetensors file is the
 * usual sink; the store can supply one that diffs against the head as tensors complete.
 */
public interface MergeSink {

    /** Writable little-endian bytes for {@code info}, {@code info.byteSize()} long. Called once per tensor, from any thread. */
    MemorySegment segment(TensorInfo info);

    /** Every byte of {@code info} has been written. Called from any thread. */
    default void tensorDone(TensorInfo info) {}
}
