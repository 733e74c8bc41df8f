package dev.merit.merge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Per-thread scratch for one block of one tensor: the base, each input's change, Fisher and
 * touch mask as float32, and the merged change. Reused block after block so the heap holds
 * only a few blocks per thread whatever the model size.
 */
final class Block {

    final int n;
    final int capacity;
    int len;
    long start;
    /**
     * Set when the block's columns are scattered positions of the tensor ({@link #pos}) rather
     * than the run [start, start + len): the sparse merge gathers only the touched entries.
     */
    boolean gathered;
    /** The tensor position of each column when {@link #gathered}. */
    final long[] pos;

    final float[] base;
    final float[] out;
    final float[] tmp;
    final float[] baseFisher;
    /** Change of input i against the base (0 where untouched). */
    final float[][] d;
    /** Fisher of input i, already normalized and floored. */
    final float[][] f;
    /** 1 where input i touched the entry, else 0 (dense inputs touch everything). */
    final float[][] m;
    final float[] sortBuf;
    final short[] s16;
    final double[] f64;

    /**
     * Output staged for one positional write: elements [stageStart, stageStart + stageLen) of
     * {@code stageTensor}, encoded in its output dtype (see {@link BlockOutput.ToFile}).
     */
    TensorCtx stageTensor;
    long stageStart;
    int stageLen;
    private MemorySegment stage;

    // Scan accumulators for one block, folded into the tensor's totals under its lock.
    final double[] sumsq;
    final double[] dot;
    final long[] support;
    final long[] overlap;
    final long[] agree;
    final double[] fisherSum;
    final double[] fisherCount;

    Block(int n, int capacity) {
        this.n = n;
        this.capacity = capacity;
        base = new float[capacity];
        out = new float[capacity];
        tmp = new float[capacity];
        baseFisher = new float[capacity];
        d = new float[n][capacity];
        f = new float[n][capacity];
        m = new float[n][capacity];
        sortBuf = new float[n];
        pos = new long[capacity];
        s16 = new short[capacity];
        f64 = new double[capacity];
        sumsq = new double[n];
        dot = new double[n * n];
        support = new long[n];
        overlap = new long[n * n];
        agree = new long[n * n];
        fisherSum = new double[n + 1];
        fisherCount = new double[n + 1];
    }

    /** Native staging bytes, allocated on first use: at least {@code minBytes} and a whole block of F64. */
    MemorySegment stage(long minBytes) {
        if (stage == null) {
            // An automatic arena: the buffer lives as long as this block, which the merger reuses.
            stage = Arena.ofAuto().allocate(Math.max(minBytes, capacity * 8L), 64);
        }
        return stage;
    }

    void clearStage() {
        stageTensor = null;
        stageStart = 0;
        stageLen = 0;
    }

    void clearScan() {
        Arrays.fill(sumsq, 0);
        Arrays.fill(dot, 0);
        Arrays.fill(support, 0);
        Arrays.fill(overlap, 0);
        Arrays.fill(agree, 0);
        Arrays.fill(fisherSum, 0);
        Arrays.fill(fisherCount, 0);
    }
}
