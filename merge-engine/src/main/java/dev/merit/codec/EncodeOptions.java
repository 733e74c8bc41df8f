package dev.merit.codec;

/**
 * Choices for {@link DeltaCodec#encode}. Immutable; start from {@link #defaults()} and use the
 * {@code with*} methods. The same delta and options always give the same bytes.
 *
 * @param values        how values are stored
 * @param int8BlockSize values per int8 scale, 1 to 2^20 (used by {@link ValueCoding#INT8})
 * @param zstd          whether to try zstd on each section and keep it where it is smaller
 * @param zstdLevel     zstd level when {@code zstd} is on
 * @param fixedMask     if not null, the delta's positions must equal this mask and are not sent
 * @param chunkBytes    upper bound on each chunk of the encoding (frame header included), 64 B to 16 MiB
 */
public record EncodeOptions(ValueCoding values, int int8BlockSize, boolean zstd, int zstdLevel, Mask fixedMask, int chunkBytes) {

    public static final int DEFAULT_INT8_BLOCK = 4096;
    public static final int MAX_INT8_BLOCK = 1 << 20;
    /** Default chunk bound: 1 MiB, well under gRPC's 4 MiB message limit. */
    public static final int DEFAULT_CHUNK_BYTES = 1 << 20;

    public EncodeOptions {
        if (values == null) {
            throw new IllegalArgumentException("values coding is required");
        }
        if (int8BlockSize < 1 || int8BlockSize > MAX_INT8_BLOCK) {
            throw new IllegalArgumentException("int8 block size " + int8BlockSize + " outside [1, " + MAX_INT8_BLOCK + "]");
        }
        if (zstdLevel < 1 || zstdLevel > 19) {
            throw new IllegalArgumentException("zstd level " + zstdLevel + " outside [1, 19]");
        }
        if (chunkBytes < Frames.MIN_CHUNK || chunkBytes > Frames.MAX_CHUNK) {
            throw new IllegalArgumentException("chunk size " + chunkBytes + " outside [" + Frames.MIN_CHUNK + ", " + Frames.MAX_CHUNK + "]");
        }
    }

    /** Exact values, zstd level 3 where it pays, int8 blocks of 4096, 1 MiB chunks. */
    public static EncodeOptions defaults() {
        return new EncodeOptions(ValueCoding.EXACT, DEFAULT_INT8_BLOCK, true, 3, null, DEFAULT_CHUNK_BYTES);
    }

    public EncodeOptions withValues(ValueCoding v) {
        return new EncodeOptions(v, int8BlockSize, zstd, zstdLevel, fixedMask, chunkBytes);
    }

    public EncodeOptions withInt8BlockSize(int block) {
        return new EncodeOptions(values, block, zstd, zstdLevel, fixedMask, chunkBytes);
    }

    public EncodeOptions withZstd(boolean on) {
        return new EncodeOptions(values, int8BlockSize, on, zstdLevel, fixedMask, chunkBytes);
    }

    public EncodeOptions withZstdLevel(int level) {
        return new EncodeOptions(values, int8BlockSize, zstd, level, fixedMask, chunkBytes);
    }

    public EncodeOptions withFixedMask(Mask mask) {
        return new EncodeOptions(values, int8BlockSize, zstd, zstdLevel, mask, chunkBytes);
    }

    public EncodeOptions withChunkBytes(int bytes) {
        return new EncodeOptions(values, int8BlockSize, zstd, zstdLevel, fixedMask, bytes);
    }
}
