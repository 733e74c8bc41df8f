package dev.merit.codec;

import dev.merit.codec.CorruptDeltaException.Reason;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** zstd on native segments through zstd-jni's address-based entry points (no heap copies, no 2 GiB limit). */
final class Zstd {

    /**
     * zstd blocks hold at most 128 KiB and take at least 4 bytes, so no valid input expands more
     * than this; a header claiming more is rejected before anything is allocated.
     */
    static final long MAX_RATIO = 1 << 15;

    private Zstd() {}

    /** Compresses {@code src} into a segment of {@code arena}; null if the result is not smaller. */
    static MemorySegment compressIfSmaller(MemorySegment src, int level, Arena arena) {
        long n = src.byteSize();
        if (n < 64) {
            return null;
        }
        long bound = com.github.luben.zstd.Zstd.compressBound(n);
        MemorySegment dst = arena.allocate(bound);
        long size = com.github.luben.zstd.Zstd.compressUnsafe(dst.address(), bound, src.address(), n, level);
        if (com.github.luben.zstd.Zstd.isError(size)) {
            throw new IllegalStateException("zstd compression failed: " + com.github.luben.zstd.Zstd.getErrorName(size));
        }
        return size < n ? dst.asSlice(0, size) : null;
    }

    /** Decompresses {@code src} into {@code dst}, which must come out exactly full. */
    static void decompress(MemorySegment src, MemorySegment dst, String what) {
        long size = com.github.luben.zstd.Zstd.decompressUnsafe(dst.address(), dst.byteSize(), src.address(), src.byteSize());
        if (com.github.luben.zstd.Zstd.isError(size)) {
            throw new CorruptDeltaException(Reason.BAD_COMPRESSION, what + ": zstd " + com.github.luben.zstd.Zstd.getErrorName(size));
        }
        if (size != dst.byteSize()) {
            throw new CorruptDeltaException(Reason.BAD_COMPRESSION, what + ": zstd gave " + size + " bytes, header says " + dst.byteSize());
        }
    }
}
