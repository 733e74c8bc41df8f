package dev.merit.codec;

import dev.merit.codec.CorruptDeltaException.Reason;
import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Value codings. Lossy codings read float32 and write the rounding error to a residual. INT8
 * stores all block scales (float32) first, then the int8 codes, so zstd sees like with like.
 */
final class Values {

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final float FP16_MAX = 65504f;
    static final float BF16_MAX = Float.intBitsToFloat(0x7f7f0000);

    private Values() {}

    static long rawBytes(ValueCoding c, DType valueType, long count, int block) {
        return switch (c) {
            case EXACT -> count * valueType.byteSize();
            case FP16, BF16 -> count * 2;
            case INT8 -> blocks(count, block) * 4 + count;
        };
    }

    static long blocks(long count, int block) {
        return (count + block - 1) / block;
    }

    /** Task size for parallel loops: a whole number of int8 blocks. */
    private static long grain(int block) {
        return Math.max(1, Par.GRAIN / block) * block;
    }

    /**
     * Encodes {@code count} values of {@code valueType} from {@code src} into {@code dst}. For lossy
     * codings src is float32 and {@code residual} (float32, may be null) receives {@code v - decoded}.
     */
    static void encode(ValueCoding c, MemorySegment src, DType valueType, long count, int block,
                       MemorySegment dst, MemorySegment residual, String what) {
        boolean par = Par.shareable(src, dst, residual);
        switch (c) {
            case EXACT -> MemorySegment.copy(src, 0, dst, 0, count * valueType.byteSize());
            case FP16, BF16 -> Par.ranges(count, Par.GRAIN, par, (from, to) -> {
                for (long i = from; i < to; i++) {
                    float v = finite(src.getAtIndex(F32, i), i, c, what);
                    short h;
                    float d;
                    if (c == ValueCoding.FP16) {
                        h = Float.floatToFloat16(Math.max(-FP16_MAX, Math.min(FP16_MAX, v)));
                        d = Float.float16ToFloat(h);
                    } else {
                        h = DType.floatToBf16(Math.max(-BF16_MAX, Math.min(BF16_MAX, v)));
                        d = Float.intBitsToFloat((h & 0xffff) << 16);
                    }
                    dst.setAtIndex(I16, i, h);
                    if (residual != null) {
                        residual.setAtIndex(F32, i, v - d);
                    }
                }
            });
            case INT8 -> {
                long nb = blocks(count, block);
                long codes = nb * 4;
                Par.ranges(count, grain(block), par, (from, to) -> {
                    for (long start = from; start < to; start += block) {
                        long end = Math.min(to, start + block);
                        float max = 0;
                        for (long i = start; i < end; i++) {
                            max = Math.max(max, Math.abs(finite(src.getAtIndex(F32, i), i, c, what)));
                        }
                        float scale = max / 127f;
                        dst.setAtIndex(F32, start / block, scale);
                        for (long i = start; i < end; i++) {
                            float v = src.getAtIndex(F32, i);
                            int q = scale == 0 ? 0 : Math.round(v / scale);
                            q = Math.max(-127, Math.min(127, q));
                            dst.set(ValueLayout.JAVA_BYTE, codes + i, (byte) q);
                            if (residual != null) {
                                residual.setAtIndex(F32, i, v - q * scale);
                            }
                        }
                    }
                });
            }
        }
    }

    private static float finite(float v, long i, ValueCoding c, String what) {
        if (!Float.isFinite(v)) {
            throw new InvalidInputException(what + ": value " + v + " at entry " + i + " cannot be encoded as " + c.name().toLowerCase(java.util.Locale.ROOT));
        }
        return v;
    }

    /** Decodes into {@code dst} (valueType for EXACT, float32 otherwise). */
    static void decode(ValueCoding c, MemorySegment raw, DType valueType, long count, int block, MemorySegment dst, String what) {
        boolean par = Par.shareable(raw, dst);
        switch (c) {
            case EXACT -> MemorySegment.copy(raw, 0, dst, 0, count * valueType.byteSize());
            case FP16 -> Par.ranges(count, Par.GRAIN, par, (from, to) -> {
                for (long i = from; i < to; i++) {
                    dst.setAtIndex(F32, i, Float.float16ToFloat(raw.getAtIndex(I16, i)));
                }
            });
            case BF16 -> Par.ranges(count, Par.GRAIN, par, (from, to) -> {
                for (long i = from; i < to; i++) {
                    dst.setAtIndex(F32, i, Float.intBitsToFloat((raw.getAtIndex(I16, i) & 0xffff) << 16));
                }
            });
            case INT8 -> {
                long nb = blocks(count, block);
                for (long j = 0; j < nb; j++) {
                    float s = raw.getAtIndex(F32, j);
                    if (!(s >= 0) || !Float.isFinite(s)) {
                        throw new CorruptDeltaException(Reason.BAD_VALUES, what + ": int8 scale " + s + " of block " + j + " is not a finite non-negative number");
                    }
                }
                long codes = nb * 4;
                Par.ranges(count, grain(block), par, (from, to) -> {
                    for (long i = from; i < to; i++) {
                        float s = raw.getAtIndex(F32, i / block);
                        dst.setAtIndex(F32, i, raw.get(ValueLayout.JAVA_BYTE, codes + i) * s);
                    }
                });
            }
        }
    }
}
