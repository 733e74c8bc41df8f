package dev.merit.merge;

import dev.merit.tensor.TensorInfo;

/** One output tensor of a merge: its rule and everything derived for it before the merge pass. */
final class TensorCtx {

    final int index;
    /** The tensor as the base (or the first model) has it. */
    final TensorInfo ref;
    /** The tensor as written: {@code ref}'s name and shape in the output dtype. */
    final TensorInfo out;
    final Rule rule;
    /** Floating-point tensors are merged; others are copied from the base. */
    final boolean merged;

    /** Effective weight per input (Krum zeroes the inputs it rejects). */
    float[] w;
    float wSum;
    /** Clip factor per input, or null when nothing is clipped. */
    float[] scale;
    /** Fisher multiplier per input (1 / mean Fisher when normalizing), and for the base at index n. */
    float[] fisherInv;
    /** TIES magnitude threshold per input. */
    float[] thr;
    /** DARE stream per input. */
    long[] salt;
    /** RegMean's merged change (numel F32 values), computed before the merge pass reaches the tensor. */
    java.lang.foreign.MemorySegment precomputed;

    TensorCtx(int index, TensorInfo ref, TensorInfo out, Rule rule) {
        this.index = index;
        this.ref = ref;
        this.out = out;
        this.rule = rule;
        this.merged = ref.dtype().isFloatingPoint();
    }

    long numel() {
        return ref.numel();
    }

    String name() {
        return ref.name();
    }
}
