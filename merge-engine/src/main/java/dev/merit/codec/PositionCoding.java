package dev.merit.codec;

/**
 * How an encoded sparse delta stores its positions. The encoder picks, per tensor, the smallest
 * of the codings that apply; {@link #FIXED_MASK} is used only when asked for.
 */
public enum PositionCoding {
    /** No positions (count 0): nothing stored. */
    EMPTY(0),
    /** Every position (count == numel): nothing stored. */
    ALL(1),
    /** Golomb-Rice codes of the gaps between consecutive positions (gap - 1), parameter in the header. */
    RICE(2),
    /** Golomb-Rice codes of the gaps between the positions that are <em>not</em> changed (for density > 1/2). */
    RICE_COMPLEMENT(3),
    /** The positions of a mask the receiver already has, named by its SHA-256 digest: nothing stored. */
    FIXED_MASK(5);

    final int code;

    PositionCoding(int code) {
        this.code = code;
    }

    static PositionCoding fromCode(int code) {
        for (PositionCoding p : values()) {
            if (p.code == code) {
                return p;
            }
        }
        return null;
    }
}
