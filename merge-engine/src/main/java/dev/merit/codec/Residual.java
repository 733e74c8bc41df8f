package dev.merit.codec;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;

/**
 * What an encoding did not send, for error feedback (as in Deep Gradient Compression and
 * PowerSGD): a contributor adds it to its next update before sparsifying and encoding again.
 */
public sealed interface Residual {

    /** Nothing was lost (exact values). */
    record None() implements Residual {}

    /** Rounding error of lossy values: an ADD delta on the same positions (sharing their memory). */
    record Sparse(SparseTensorDelta delta) implements Residual {}

    /** Low-rank: the dense float32 change minus what the decoded factors reconstruct. */
    record Dense(TensorInfo info, MemorySegment valuesF32) implements Residual {}
}
