package dev.merit.delta;

import dev.merit.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scratch buffers holding a run of up to {@link #SIZE} elements of a tensor pair, decoded to raw
 * bits (for exact "did it change" tests) and to doubles (for the arithmetic). One per worker,
 * reused chunk after chunk, so the per-dtype switch runs once per chunk, not once per element,
 * and the bulk copies out of the segments are vectorised by the JDK.
 */
final class Chunk {

    static final int SIZE = 4096;

    static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Key of a change that is NaN or infinite: the bits of +infinity, above every finite |change|. */
    static final long NON_FINITE_KEY = Double.doubleToRawLongBits(Double.POSITIVE_INFINITY);

    final long[] beforeBits = new long[SIZE];
    final long[] afterBits = new long[SIZE];
    final double[] before = new double[SIZE];
    final double[] after = new double[SIZE];
    final long[] keys = new long[SIZE];
    private final int[] ints = new int[SIZE];
    private final short[] shorts = new short[SIZE];
    private final byte[] bytes = new byte[SIZE];

    /** Number of elements loaded. */
    int n;
    /** Position in the flattened tensor of the first element loaded. */
    long first;

    /** A worker-local histogram for the top-k select, allocated on first use. */
    private long[] histogram;

    private TensorPair pair;
    private long next;
    private long end;

    /** Positions the chunk before the first element of {@code block}; {@link #next()} loads the chunks. */
    void start(TensorPair pair, Blocks.Block block) {
        this.pair = pair;
        this.next = block.start();
        this.end = block.end();
        this.n = 0;
    }

    /** Loads the next run of the block's elements of both tensors; false when the block is done. */
    boolean next() {
        if (next >= end) {
            return false;
        }
        n = (int) Math.min(SIZE, end - next);
        first = next;
        next += n;
        DType dtype = pair.info().dtype();
        decode(dtype, pair.before(), first, beforeBits, before);
        decode(dtype, pair.after(), first, afterBits, after);
        return true;
    }

    private void decode(DType dtype, MemorySegment seg, long first, long[] bits, double[] values) {
        long off = first * dtype.byteSize();
        switch (dtype) {
            case F64 -> {
                MemorySegment.copy(seg, LE_LONG, off, bits, 0, n);
                for (int i = 0; i < n; i++) values[i] = Double.longBitsToDouble(bits[i]);
            }
            case I64 -> {
                MemorySegment.copy(seg, LE_LONG, off, bits, 0, n);
                for (int i = 0; i < n; i++) values[i] = bits[i];
            }
            case F32 -> {
                MemorySegment.copy(seg, LE_INT, off, ints, 0, n);
                for (int i = 0; i < n; i++) {
                    bits[i] = ints[i];
                    values[i] = Float.intBitsToFloat(ints[i]);
                }
            }
            case I32 -> {
                MemorySegment.copy(seg, LE_INT, off, ints, 0, n);
                for (int i = 0; i < n; i++) {
                    bits[i] = ints[i];
                    values[i] = ints[i];
                }
            }
            case F16 -> {
                MemorySegment.copy(seg, LE_SHORT, off, shorts, 0, n);
                for (int i = 0; i < n; i++) {
                    bits[i] = shorts[i];
                    values[i] = Float.float16ToFloat(shorts[i]);
                }
            }
            case BF16 -> {
                MemorySegment.copy(seg, LE_SHORT, off, shorts, 0, n);
                for (int i = 0; i < n; i++) {
                    bits[i] = shorts[i];
                    values[i] = Float.intBitsToFloat((shorts[i] & 0xffff) << 16);
                }
            }
            case I16 -> {
                MemorySegment.copy(seg, LE_SHORT, off, shorts, 0, n);
                for (int i = 0; i < n; i++) {
                    bits[i] = shorts[i];
                    values[i] = shorts[i];
                }
            }
            case I8, U8, BOOL -> {
                MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, off, bytes, 0, n);
                for (int i = 0; i < n; i++) {
                    bits[i] = bytes[i];
                    values[i] = switch (dtype) {
                        case I8 -> bytes[i];
                        case U8 -> bytes[i] & 0xff;
                        default -> bytes[i] != 0 ? 1 : 0;
                    };
                }
            }
        }
    }

    long[] histogram() {
        if (histogram == null) {
            histogram = new long[1 << 16];
        }
        return histogram;
    }

    boolean differs(int i) {
        return beforeBits[i] != afterBits[i];
    }

    double change(int i) {
        return after[i] - before[i];
    }

    /**
     * Fills {@link #keys} with the ranking key of each entry's change: the bits of |after - before|
     * as a double (non-negative doubles order like their bits), {@link #NON_FINITE_KEY} for NaN or
     * infinite changes, and 0 where the bits are equal. With {@code everyDifference}, entries whose
     * bits differ but whose values are equal (-0.0 and 0.0, two NaN payloads, BOOL 1 and 2) get key 1
     * instead of 0, so "key > 0" selects exactly the entries whose bits changed.
     */
    void computeKeys(boolean everyDifference) {
        long floor = everyDifference ? 1 : 0;
        for (int i = 0; i < n; i++) {
            if (beforeBits[i] == afterBits[i]) {
                keys[i] = 0;
            } else {
                double d = after[i] - before[i];
                long k = Double.isFinite(d) ? Double.doubleToRawLongBits(Math.abs(d)) : NON_FINITE_KEY;
                keys[i] = Math.max(k, floor);
            }
        }
    }
}
