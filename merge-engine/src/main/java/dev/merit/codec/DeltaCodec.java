package dev.merit.codec;

import dev.merit.codec.CorruptDeltaException.Reason;
import dev.merit.codec.DeltaHeader.Compression;
import dev.merit.codec.DeltaHeader.Form;
import dev.merit.codec.DeltaHeader.Section;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.delta.SparseTensorDelta.Semantics;
import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;

/**
 * Encodes one tensor's delta into Merit's compact, versioned, checksummed format and decodes it
 * back. Encoded bytes are a sequence of chunks (see {@link DeltaChunkWriter}); their layout is
 * described in {@code Wire} and {@code Frames}.
 *
 * <pre>{@code
 * try (Arena arena = Arena.ofShared()) {
 *     EncodeResult r = DeltaCodec.encode(delta, EncodeOptions.defaults().withValues(ValueCoding.FP16), arena);
 *     // r.encoded(): bytes to store or send; r.residual(): what fp16 rounding lost
 *     SparseTensorDelta back = DeltaCodec.decode(r.encoded(), DecodeOptions.defaults().expecting(info), arena).toSparse(arena);
 * }
 * }</pre>
 *
 * Segments from shared or automatic arenas (or mapped files) let the codec use every core for
 * value conversion; segments confined to one thread are processed on the calling thread.
 */
public final class DeltaCodec {

    private DeltaCodec() {}

    /** Encodes a sparse delta; the result's segments are allocated in {@code arena}. */
    public static EncodeResult encode(SparseTensorDelta delta, EncodeOptions options, Arena arena) {
        TensorInfo info = delta.info();
        String what = "tensor '" + info.name() + "'";
        if (delta.semantics() == Semantics.SET && options.values() != ValueCoding.EXACT) {
            throw new IllegalArgumentException(what + ": SET deltas are stored exactly; " + options.values() + " applies to ADD deltas");
        }
        Positions.validate(delta);
        long n = info.numel(), k = delta.count();
        try (Arena tmp = Par.scratch(k * 12)) {
            Positions.Plan plan;
            byte[] digest = null;
            if (options.fixedMask() != null) {
                Mask m = options.fixedMask();
                if (m.numel() != n || m.count() != k
                        || (k > 0 && MemorySegment.mismatch(m.positions(), 0, k * 8, delta.positions(), 0, k * 8) >= 0)) {
                    throw new InvalidInputException(what + ": positions differ from the fixed mask " + m.digestHex());
                }
                plan = new Positions.Plan(PositionCoding.FIXED_MASK, 0, 0);
                digest = m.digest();
            } else {
                plan = Positions.plan(delta);
            }
            MemorySegment rawPos = tmp.allocate(plan.rawBytes(), 8);
            Positions.write(plan, delta, rawPos);
            Stored pos = store(rawPos, options, tmp);

            DType valueType = delta.valueType();
            long rawValueBytes = Values.rawBytes(options.values(), valueType, k, options.int8BlockSize());
            MemorySegment rawValues = tmp.allocate(rawValueBytes, 8);
            Residual residual = new Residual.None();
            MemorySegment residualValues = null;
            if (options.values() != ValueCoding.EXACT) {
                residualValues = arena.allocate(k * 4, 8);
                residual = new Residual.Sparse(new SparseTensorDelta(info, Semantics.ADD, k, delta.positions(), residualValues));
            }
            Values.encode(options.values(), delta.values(), valueType, k, options.int8BlockSize(), rawValues, residualValues, what);
            Stored vals = store(rawValues, options, tmp);

            DeltaHeader h = new DeltaHeader(Wire.VERSION, Form.SPARSE, info, delta.semantics(), k, plan.coding(), plan.param(), digest,
                    options.values(), options.values() == ValueCoding.INT8 ? options.int8BlockSize() : 0, 0, pos.section, vals.section);
            MemorySegment encoded = assemble(h, pos.bytes, vals.bytes, options.chunkBytes(), arena, tmp);
            long positionBits = pos.section.compression() == Compression.NONE ? plan.bits() : pos.section.storedBytes() * 8;
            double bound = options.fixedMask() != null ? 0 : EncodeStats.log2Binomial(n, k);
            return new EncodeResult(encoded, new EncodeStats(h, positionBits, vals.section.storedBytes() * 8, encoded.byteSize(), bound), residual);
        }
    }

    /**
     * Encodes low-rank factors as they are (see {@link LowRank#encode} to factorize a dense change
     * and get the residual against it). The residual here is always {@link Residual.None}.
     */
    public static EncodeResult encodeLowRank(LowRankDelta factors, EncodeOptions options, Arena arena) {
        TensorInfo info = factors.info();
        String what = "tensor '" + info.name() + "'";
        long m = factors.rows(), n = factors.cols(), r = factors.rank();
        long count = (m + n) * r;
        try (Arena tmp = Par.scratch(count * 4)) {
            MemorySegment joined = tmp.allocate(count * 4, 8);
            MemorySegment.copy(factors.u(), 0, joined, 0, m * r * 4);
            MemorySegment.copy(factors.v(), 0, joined, m * r * 4, n * r * 4);
            MemorySegment raw = tmp.allocate(Values.rawBytes(options.values(), DType.F32, count, options.int8BlockSize()), 8);
            Values.encode(options.values(), joined, DType.F32, count, options.int8BlockSize(), raw, null, what);
            Stored vals = store(raw, options, tmp);
            DeltaHeader h = new DeltaHeader(Wire.VERSION, Form.LOW_RANK, info, Semantics.ADD, info.numel(), PositionCoding.ALL, 0, null,
                    options.values(), options.values() == ValueCoding.INT8 ? options.int8BlockSize() : 0, (int) r, Section.NONE, vals.section);
            MemorySegment encoded = assemble(h, MemorySegment.NULL, vals.bytes, options.chunkBytes(), arena, tmp);
            return new EncodeResult(encoded, new EncodeStats(h, 0, vals.section.storedBytes() * 8, encoded.byteSize(), 0), new Residual.None());
        }
    }

    private record Stored(Section section, MemorySegment bytes) {}

    private static Stored store(MemorySegment raw, EncodeOptions options, Arena tmp) {
        if (options.zstd()) {
            MemorySegment z = Zstd.compressIfSmaller(raw, options.zstdLevel(), tmp);
            if (z != null) {
                return new Stored(new Section(Compression.ZSTD, raw.byteSize(), z.byteSize()), z);
            }
        }
        return new Stored(new Section(Compression.NONE, raw.byteSize(), raw.byteSize()), raw);
    }

    private static MemorySegment assemble(DeltaHeader h, MemorySegment pos, MemorySegment vals, int chunkBytes, Arena arena, Arena tmp) {
        byte[] head = Wire.write(h);
        long total = head.length + pos.byteSize() + vals.byteSize();
        MemorySegment logical = tmp.allocate(total, 8);
        MemorySegment.copy(MemorySegment.ofArray(head), 0, logical, 0, head.length);
        MemorySegment.copy(pos, 0, logical, head.length, pos.byteSize());
        MemorySegment.copy(vals, 0, logical, head.length + pos.byteSize(), vals.byteSize());
        MemorySegment out = arena.allocate(Frames.framedSize(total, chunkBytes), 8);
        Frames.frame(logical, chunkBytes, out);
        return out;
    }

    /** Verifies the chunks and reads the header, without decoding positions or values. */
    public static DeltaHeader inspect(MemorySegment encoded, DecodeOptions options) {
        try (Arena tmp = Arena.ofConfined()) {
            return parse(encoded, options, tmp).header;
        }
    }

    private record Parsed(DeltaHeader header, MemorySegment positions, MemorySegment values) {}

    private static Parsed parse(MemorySegment encoded, DecodeOptions options, Arena tmp) {
        long len = Frames.scan(encoded);
        MemorySegment logical = tmp.allocate(len, 8);
        Frames.unframe(encoded, logical);
        DeltaHeader h = Wire.parse(logical, options);
        long at = Wire.prefixLength(logical);
        long end = at + h.positions().storedBytes() + h.values().storedBytes();
        String what = "delta for tensor '" + h.info().name() + "'";
        if (end > len) {
            throw new CorruptDeltaException(Reason.TRUNCATED, what + ": " + len + " bytes, header declares " + end);
        }
        if (end < len) {
            throw new CorruptDeltaException(Reason.TRAILING_DATA, what + ": " + (len - end) + " bytes after the declared end");
        }
        MemorySegment pos = logical.asSlice(at, h.positions().storedBytes());
        MemorySegment vals = logical.asSlice(at + pos.byteSize(), h.values().storedBytes());
        return new Parsed(h, pos, vals);
    }

    /**
     * Decodes untrusted bytes. Every malformation is a {@link CorruptDeltaException}; time is
     * linear in the input and the declared tensor size, memory bounded by both (see
     * {@link DecodeOptions}). Result segments are allocated in {@code arena}.
     */
    public static DecodedDelta decode(MemorySegment encoded, DecodeOptions options, Arena arena) {
        try (Arena tmp = Par.scratch(encoded.byteSize())) {
            Parsed p = parse(encoded, options, tmp);
            DeltaHeader h = p.header;
            TensorInfo info = h.info();
            String what = "delta for tensor '" + info.name() + "'";
            long count = h.count();
            if (h.form() == Form.LOW_RANK) {
                long m = info.dim(0), n = info.dim(1), r = h.rank();
                MemorySegment factors = arena.allocate(h.valueCount() * 4, 8);
                Values.decode(h.valueCoding(), raw(h.values(), p.values, tmp, what + " values"), DType.F32, h.valueCount(), Math.max(1, h.int8BlockSize()), factors, what);
                return new DecodedDelta.LowRank(h, new LowRankDelta(info, (int) r, factors.asSlice(0, m * r * 4), factors.asSlice(m * r * 4, n * r * 4)));
            }
            MemorySegment positions = arena.allocate(count * 8, 8);
            if (h.positionCoding() == PositionCoding.FIXED_MASK) {
                Mask mask = options.masks().find(h.maskDigest());
                if (mask == null) {
                    throw new CorruptDeltaException(Reason.UNKNOWN_MASK, what + ": mask " + HexFormat.of().formatHex(h.maskDigest()) + " is not known here");
                }
                if (mask.numel() != info.numel() || mask.count() != count) {
                    throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": mask has " + mask.count() + " of " + mask.numel() + " entries, header says " + count + " of " + info.numel());
                }
                MemorySegment.copy(mask.positions(), 0, positions, 0, count * 8);
            } else {
                Positions.read(h.positionCoding(), h.riceParameter(), raw(h.positions(), p.positions, tmp, what + " positions"),
                        info.numel(), count, positions, what);
            }
            DType valueType = h.semantics() == Semantics.SET ? info.dtype() : DType.F32;
            MemorySegment values = arena.allocate(count * valueType.byteSize(), 8);
            Values.decode(h.valueCoding(), raw(h.values(), p.values, tmp, what + " values"), valueType, count, Math.max(1, h.int8BlockSize()), values, what);
            return new DecodedDelta.Sparse(h, new SparseTensorDelta(info, h.semantics(), count, positions, values));
        }
    }

    private static MemorySegment raw(Section s, MemorySegment stored, Arena tmp, String what) {
        if (s.compression() == Compression.NONE) {
            return stored;
        }
        MemorySegment out = tmp.allocate(s.rawBytes(), 8);
        Zstd.decompress(stored, out, what);
        return out;
    }
}
