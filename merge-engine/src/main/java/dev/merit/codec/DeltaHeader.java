package dev.merit.codec;

import dev.merit.delta.SparseTensorDelta.Semantics;
import dev.merit.tensor.TensorInfo;

/**
 * What an encoded delta says about itself, readable without decoding the data
 * ({@link DeltaCodec#inspect}); for {@code merit show --json} and for validation before decoding.
 *
 * @param formatVersion  encoding format version
 * @param form           sparse positions and values, or low-rank factors
 * @param info           the tensor the delta changes
 * @param semantics      SET or ADD (low-rank is always ADD)
 * @param count          changed entries (numel for low-rank)
 * @param positionCoding how positions are stored ({@link PositionCoding#ALL} for low-rank)
 * @param riceParameter  Golomb-Rice parameter for the RICE codings, else 0
 * @param maskDigest     SHA-256 of the mask for {@link PositionCoding#FIXED_MASK}, else null
 * @param valueCoding    how values (or factors) are stored
 * @param int8BlockSize  values per scale for INT8, else 0
 * @param rank           factor rank for low-rank, else 0
 * @param positions      the positions section
 * @param values         the values section (low-rank: factors U then V)
 */
public record DeltaHeader(int formatVersion, Form form, TensorInfo info, Semantics semantics, long count,
                          PositionCoding positionCoding, int riceParameter, byte[] maskDigest,
                          ValueCoding valueCoding, int int8BlockSize, int rank,
                          Section positions, Section values) {

    public enum Form { SPARSE, LOW_RANK }

    public enum Compression { NONE, ZSTD }

    /**
     * One stored section.
     *
     * @param compression how its bytes are stored
     * @param rawBytes    size before compression
     * @param storedBytes size in the encoding
     */
    public record Section(Compression compression, long rawBytes, long storedBytes) {
        static final Section NONE = new Section(Compression.NONE, 0, 0);
    }

    public DeltaHeader {
        maskDigest = maskDigest == null ? null : maskDigest.clone();
    }

    @Override
    public byte[] maskDigest() {
        return maskDigest == null ? null : maskDigest.clone();
    }

    /** Number of values (or factor entries) stored. */
    public long valueCount() {
        return form == Form.LOW_RANK ? (info.dim(0) + info.dim(1)) * rank : count;
    }
}
