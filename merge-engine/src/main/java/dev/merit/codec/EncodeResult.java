package dev.merit.codec;

import java.lang.foreign.MemorySegment;

/**
 * One tensor's encoding.
 *
 * @param encoded  the encoded bytes: a sequence of checksummed chunks ({@link DeltaChunkWriter#chunks}),
 *                 deterministic for a given input and options (content-addressable)
 * @param stats    sizes and the codings chosen
 * @param residual what the encoding lost, for error feedback
 */
public record EncodeResult(MemorySegment encoded, EncodeStats stats, Residual residual) {

    public DeltaHeader header() {
        return stats.header();
    }
}
