package dev.merit.codec;

/**
 * How an encoded delta stores its values.
 *
 * <p>Error bounds, for a finite float32 value {@code v} and its decoded value {@code d}:
 * <ul>
 *   <li>{@link #EXACT}: {@code d == v} bit for bit (the tensor's dtype for SET, float32 for ADD).</li>
 *   <li>{@link #FP16}: {@code |v|} is first clamped to 65504 (fp16's largest finite value); then
 *       {@code |d - v| <= 2^-11 |v|} for {@code |v| >= 2^-14} and {@code |d - v| <= 2^-25} below.</li>
 *   <li>{@link #BF16}: {@code |d - v| <= 2^-8 |v|} for normal values (round to nearest even);
 *       values past bfloat16's largest finite value are clamped to it.</li>
 *   <li>{@link #INT8}: per block of {@code blockSize} values, {@code scale = max|v| / 127} (float32)
 *       and {@code d = round(v / scale) * scale}, so {@code |d - v| <= scale / 2} plus float32
 *       rounding of the product (relative 2^-24).</li>
 * </ul>
 * Lossy codings apply only to ADD deltas and low-rank factors; they reject NaN and infinities.
 * What they lose is returned by the encoder as a residual for error feedback.
 */
public enum ValueCoding {
    EXACT(0), FP16(1), BF16(2), INT8(3);

    final int code;

    ValueCoding(int code) {
        this.code = code;
    }

    static ValueCoding fromCode(int code) {
        for (ValueCoding v : values()) {
            if (v.code == code) {
                return v;
            }
        }
        return null;
    }

    /** Parses a CLI name: {@code exact}, {@code fp16}, {@code bf16} or {@code int8}, any case. */
    public static ValueCoding parse(String name) {
        for (ValueCoding v : values()) {
            if (v.name().equalsIgnoreCase(name)) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown value coding '" + name + "' (exact, fp16, bf16, int8)");
    }
}
