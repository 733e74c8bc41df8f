package dev.merit.codec;

import dev.merit.tensor.TensorInfo;

/**
 * Limits and context for decoding untrusted input. Allocations during decoding are bounded by
 * {@code maxElements} (at most about 16 bytes per element) and by the input's own size.
 *
 * @param maxElements largest tensor (number of entries) a header may declare
 * @param expected    if not null, the header must describe exactly this tensor (name, dtype, shape);
 *                    receivers that know the base model should always pass it
 * @param masks       the masks this receiver has, for deltas encoded against a fixed mask
 */
public record DecodeOptions(long maxElements, TensorInfo expected, Mask.Resolver masks) {

    /** Default element limit: 2^31 entries (8 GiB of float32). */
    public static final long DEFAULT_MAX_ELEMENTS = 1L << 31;

    public DecodeOptions {
        if (maxElements < 0) {
            throw new IllegalArgumentException("maxElements must be >= 0");
        }
        masks = masks == null ? Mask.Resolver.NONE : masks;
    }

    public static DecodeOptions defaults() {
        return new DecodeOptions(DEFAULT_MAX_ELEMENTS, null, Mask.Resolver.NONE);
    }

    public DecodeOptions withMaxElements(long max) {
        return new DecodeOptions(max, expected, masks);
    }

    public DecodeOptions expecting(TensorInfo info) {
        return new DecodeOptions(maxElements, info, masks);
    }

    public DecodeOptions withMasks(Mask.Resolver resolver) {
        return new DecodeOptions(maxElements, expected, resolver);
    }
}
