package dev.merit.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.Optional;

/**
 * Element types of the safetensors format. Values are little-endian in files and in memory
 * segments handed around by Merit.
 */
public enum DType {
    F64(8, true),
    F32(4, true),
    F16(2, true),
    BF16(2, true),
    I64(8, false),
    I32(4, false),
    I16(2, false),
    I8(1, false),
    U8(1, false),
    BOOL(1, false);

    static final ValueLayout.OfDouble LE_F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE_I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort LE_I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int byteSize;
    private final boolean floatingPoint;

    DType(int byteSize, boolean floatingPoint) {
        this.byteSize = byteSize;
        this.floatingPoint = floatingPoint;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    public boolean isFloatingPoint() {
        return floatingPoint;
    }

    /** The name used in safetensors headers ("F32", "BF16", ...). */
    public String safetensorsName() {
        return name();
    }

    /** Looks up a safetensors dtype name; empty for names Merit does not support. */
    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType d : values()) {
            if (d.name().equals(name)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** Parses a user-supplied dtype name, case-insensitively. */
    public static DType parse(String name) {
        return fromSafetensorsName(name.toUpperCase(Locale.ROOT))
                .orElseThrow(() -> new IllegalArgumentException("unknown dtype '" + name + "'"));
    }

    /** Reads element {@code index} of {@code seg} as a double (exact for every dtype but I64 beyond 2^53). */
    public double getDouble(MemorySegment seg, long index) {
        long off = index * byteSize;
        return switch (this) {
            case F64 -> seg.get(LE_F64, off);
            case F32 -> seg.get(LE_F32, off);
            case F16 -> Float.float16ToFloat(seg.get(LE_I16, off));
            case BF16 -> Float.intBitsToFloat((seg.get(LE_I16, off) & 0xffff) << 16);
            case I64 -> seg.get(LE_I64, off);
            case I32 -> seg.get(LE_I32, off);
            case I16 -> seg.get(LE_I16, off);
            case I8 -> seg.get(ValueLayout.JAVA_BYTE, off);
            case U8 -> seg.get(ValueLayout.JAVA_BYTE, off) & 0xff;
            case BOOL -> seg.get(ValueLayout.JAVA_BYTE, off) != 0 ? 1.0 : 0.0;
        };
    }

    /** Reads element {@code index} of {@code seg} as a float (the accumulation type of merges). */
    public float getFloat(MemorySegment seg, long index) {
        long off = index * byteSize;
        return switch (this) {
            case F32 -> seg.get(LE_F32, off);
            case F16 -> Float.float16ToFloat(seg.get(LE_I16, off));
            case BF16 -> Float.intBitsToFloat((seg.get(LE_I16, off) & 0xffff) << 16);
            default -> (float) getDouble(seg, index);
        };
    }

    /**
     * Writes {@code value} as element {@code index} of {@code seg}, rounding to nearest for
     * F16/BF16 and rounding then saturating for integer types.
     */
    public void setDouble(MemorySegment seg, long index, double value) {
        long off = index * byteSize;
        switch (this) {
            case F64 -> seg.set(LE_F64, off, value);
            case F32 -> seg.set(LE_F32, off, (float) value);
            case F16 -> seg.set(LE_I16, off, Float.floatToFloat16((float) value));
            case BF16 -> seg.set(LE_I16, off, floatToBf16((float) value));
            case I64 -> seg.set(LE_I64, off, Math.round(value));
            case I32 -> seg.set(LE_I32, off, (int) clampRound(value, Integer.MIN_VALUE, Integer.MAX_VALUE));
            case I16 -> seg.set(LE_I16, off, (short) clampRound(value, Short.MIN_VALUE, Short.MAX_VALUE));
            case I8 -> seg.set(ValueLayout.JAVA_BYTE, off, (byte) clampRound(value, Byte.MIN_VALUE, Byte.MAX_VALUE));
            case U8 -> seg.set(ValueLayout.JAVA_BYTE, off, (byte) clampRound(value, 0, 255));
            case BOOL -> seg.set(ValueLayout.JAVA_BYTE, off, (byte) (value != 0 ? 1 : 0));
        }
    }

    /** Writes a float; same rounding as {@link #setDouble}. */
    public void setFloat(MemorySegment seg, long index, float value) {
        long off = index * byteSize;
        switch (this) {
            case F32 -> seg.set(LE_F32, off, value);
            case F16 -> seg.set(LE_I16, off, Float.floatToFloat16(value));
            case BF16 -> seg.set(LE_I16, off, floatToBf16(value));
            default -> setDouble(seg, index, value);
        }
    }

    /** Round-to-nearest-even conversion of a float to bfloat16 bits; NaN stays NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    private static long clampRound(double v, long min, long max) {
        if (Double.isNaN(v)) {
            return 0;
        }
        return Math.max(min, Math.min(max, Math.round(v)));
    }
}
