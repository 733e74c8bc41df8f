package dev.merit.merge;

import dev.merit.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Moves runs of tensor elements between memory segments of any dtype and float32 arrays. */
final class BlockIO {

    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private BlockIO() {}

    /** Reads elements [start, start + len) of {@code seg} as floats into {@code dst[0, len)}. */
    static void read(MemorySegment seg, DType type, long start, int len, float[] dst, short[] s16, double[] f64) {
        switch (type) {
            // Bulk copies first, then simple loops over arrays that C2 can unroll and vectorize.
            case F32 -> MemorySegment.copy(seg, F32, start * 4, dst, 0, len);
            case F16 -> {
                MemorySegment.copy(seg, I16, start * 2, s16, 0, len);
                for (int j = 0; j < len; j++) {
                    dst[j] = Float.float16ToFloat(s16[j]);
                }
            }
            case BF16 -> {
                MemorySegment.copy(seg, I16, start * 2, s16, 0, len);
                for (int j = 0; j < len; j++) {
                    dst[j] = Float.intBitsToFloat(s16[j] << 16);
                }
            }
            case F64 -> {
                MemorySegment.copy(seg, F64, start * 8, f64, 0, len);
                for (int j = 0; j < len; j++) {
                    dst[j] = (float) f64[j];
                }
            }
            default -> {
                for (int j = 0; j < len; j++) {
                    dst[j] = type.getFloat(seg, start + j);
                }
            }
        }
    }

    /** Writes {@code src[0, len)} as elements [start, start + len) of {@code seg}, rounding to nearest. */
    static void write(float[] src, int len, MemorySegment seg, DType type, long start, short[] s16, double[] f64) {
        switch (type) {
            case F32 -> MemorySegment.copy(src, 0, seg, F32, start * 4, len);
            case F16 -> {
                for (int j = 0; j < len; j++) {
                    s16[j] = Float.floatToFloat16(src[j]);
                }
                MemorySegment.copy(s16, 0, seg, I16, start * 2, len);
            }
            case BF16 -> {
                for (int j = 0; j < len; j++) {
                    s16[j] = DType.floatToBf16(src[j]);
                }
                MemorySegment.copy(s16, 0, seg, I16, start * 2, len);
            }
            case F64 -> {
                for (int j = 0; j < len; j++) {
                    f64[j] = src[j];
                }
                MemorySegment.copy(f64, 0, seg, F64, start * 8, len);
            }
            default -> {
                for (int j = 0; j < len; j++) {
                    type.setFloat(seg, start + j, src[j]);
                }
            }
        }
    }
}
