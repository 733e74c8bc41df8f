/**
 * The sparse delta codec: a compact, versioned, checksummed and deterministic encoding of one
 * tensor's change ({@link dev.merit.delta.SparseTensorDelta} or {@link dev.merit.codec.LowRankDelta}).
 * Positions cost within a few percent of log2 C(n, k) bits (Golomb-Rice on gaps, or on the
 * complement above half density), or nothing with a fixed mask; values are exact or fp16, bf16,
 * int8 with block scales, optionally zstd-compressed. Entry points: {@link dev.merit.codec.DeltaCodec},
 * {@link dev.merit.codec.LowRank}, {@link dev.merit.codec.DeltaChunkWriter} and
 * {@link dev.merit.codec.DeltaChunkReader}; decoding untrusted input only ever fails with
 * {@link dev.merit.codec.CorruptDeltaException}.
 */
package dev.merit.codec;
