package dev.merit.codec;

import dev.merit.codec.CorruptDeltaException.Reason;
import dev.merit.codec.DeltaHeader.Compression;
import dev.merit.codec.DeltaHeader.Form;
import dev.merit.codec.DeltaHeader.Section;
import dev.merit.delta.SparseTensorDelta.Semantics;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * The logical stream inside the frames:
 * <pre>
 * "MRTD" | u8 version | varint headerLength | header | positions section | values section
 * header = u8 form | u8 semantics | u8 dtype | varint nameLength | name (UTF-8) | varint rank | varint dim...
 *          SPARSE:   varint count | u8 positionCoding | [u8 riceParameter] | [32-byte mask digest]
 *          LOW_RANK: varint factorRank
 *          u8 valueCoding | [varint int8BlockSize]
 *          SPARSE: section(positions)   section(values)      section = u8 compression | varint raw | varint stored
 * </pre>
 * Varints are unsigned LEB128, canonical (no redundant bytes), at most 63 bits. Integers in
 * sections are little-endian.
 */
final class Wire {

    static final byte[] MAGIC = {'M', 'R', 'T', 'D'};
    static final int VERSION = 1;
    static final int MAX_HEADER = 1 << 16;
    static final int MAX_NAME = 4096;
    static final int MAX_DIMS = 32;
    static final int DIGEST = 32;
    private static final DType[] DTYPES = {DType.F64, DType.F32, DType.F16, DType.BF16, DType.I64, DType.I32, DType.I16, DType.I8, DType.U8, DType.BOOL};

    private Wire() {}

    static byte[] write(DeltaHeader h) {
        Out o = new Out();
        o.u8(h.form().ordinal());
        o.u8(h.semantics().ordinal());
        o.u8(Arrays.asList(DTYPES).indexOf(h.info().dtype()));
        byte[] name = h.info().name().getBytes(StandardCharsets.UTF_8);
        if (name.length > MAX_NAME) {
            throw new IllegalArgumentException("tensor name longer than " + MAX_NAME + " bytes: " + h.info().name());
        }
        o.varint(name.length);
        o.bytes(name);
        o.varint(h.info().rank());
        for (long d : h.info().shape()) {
            o.varint(d);
        }
        if (h.form() == Form.SPARSE) {
            o.varint(h.count());
            o.u8(h.positionCoding().code);
            if (h.positionCoding() == PositionCoding.RICE || h.positionCoding() == PositionCoding.RICE_COMPLEMENT) {
                o.u8(h.riceParameter());
            } else if (h.positionCoding() == PositionCoding.FIXED_MASK) {
                o.bytes(h.maskDigest());
            }
        } else {
            o.varint(h.rank());
        }
        o.u8(h.valueCoding().code);
        if (h.valueCoding() == ValueCoding.INT8) {
            o.varint(h.int8BlockSize());
        }
        if (h.form() == Form.SPARSE) {
            section(o, h.positions());
        }
        section(o, h.values());
        byte[] header = o.toByteArray();
        Out p = new Out();
        p.bytes(MAGIC);
        p.u8(VERSION);
        p.varint(header.length);
        p.bytes(header);
        return p.toByteArray();
    }

    private static void section(Out o, Section s) {
        o.u8(s.compression().ordinal());
        o.varint(s.rawBytes());
        o.varint(s.storedBytes());
    }

    /**
     * Length of magic, version, length and header if {@code in} holds them all, else -1. Throws
     * as soon as the bytes seen so far are wrong.
     */
    static long prefixLength(MemorySegment in) {
        In r = new In(in, "delta");
        for (int i = 0; i < MAGIC.length; i++) {
            if (r.remaining() == 0) {
                return -1;
            }
            if (r.u8() != (MAGIC[i] & 0xff)) {
                throw new CorruptDeltaException(Reason.BAD_MAGIC, "delta: bad magic (not a Merit delta)");
            }
        }
        if (r.remaining() == 0) {
            return -1;
        }
        int version = r.u8();
        if (version != VERSION) {
            throw new CorruptDeltaException(Reason.UNSUPPORTED_VERSION, "delta: format version " + version + " unsupported (this decoder reads version " + VERSION + ")");
        }
        long len;
        try {
            len = r.varint("header length");
        } catch (CorruptDeltaException e) {
            if (e.reason() == Reason.TRUNCATED) {
                return -1;
            }
            throw e;
        }
        if (len > MAX_HEADER) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, "delta: header length " + len + " exceeds " + MAX_HEADER);
        }
        long end = r.at + len;
        return end <= in.byteSize() ? end : -1;
    }

    /** Parses and checks the header at the start of a logical stream (which may be incomplete past it). */
    static DeltaHeader parse(MemorySegment logical, DecodeOptions opts) {
        long end = prefixLength(logical);
        if (end < 0) {
            throw new CorruptDeltaException(Reason.TRUNCATED, "delta: input ends inside the header");
        }
        In r = new In(logical.asSlice(0, end), "delta header");
        r.at = MAGIC.length + 1;
        r.varint("header length");
        Form form = enumAt(Form.values(), r.u8(), "form");
        Semantics sem = enumAt(Semantics.values(), r.u8(), "semantics");
        DType dtype = enumAt(DTYPES, r.u8(), "dtype");
        long nameLen = r.varint("name length");
        if (nameLen > MAX_NAME) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, "delta header: name length " + nameLen + " exceeds " + MAX_NAME);
        }
        String name = utf8(r.bytes((int) nameLen));
        String what = "delta for tensor '" + name + "'";
        long dims = r.varint("rank");
        if (dims > MAX_DIMS) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": " + dims + " dimensions exceed " + MAX_DIMS);
        }
        long[] shape = new long[(int) dims];
        long numel = 1;
        for (int i = 0; i < dims; i++) {
            shape[i] = r.varint("dimension " + i);
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException e) {
                throw new CorruptDeltaException(Reason.LIMIT_EXCEEDED, what + ": shape overflows 64 bits");
            }
        }
        if (numel > opts.maxElements()) {
            throw new CorruptDeltaException(Reason.LIMIT_EXCEEDED, what + ": " + numel + " entries exceed the limit of " + opts.maxElements());
        }
        TensorInfo info = new TensorInfo(name, dtype, shape);
        if (opts.expected() != null && !opts.expected().equals(info)) {
            throw new CorruptDeltaException(Reason.LAYOUT_MISMATCH, what + ": header says " + info + ", expected " + opts.expected());
        }
        long count;
        PositionCoding pc = PositionCoding.ALL;
        int rice = 0, factorRank = 0;
        byte[] digest = null;
        if (form == Form.SPARSE) {
            count = r.varint("count");
            if (count > numel) {
                throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": count " + count + " exceeds the tensor's " + numel + " entries");
            }
            int code = r.u8();
            pc = PositionCoding.fromCode(code);
            if (pc == null) {
                throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": unknown position coding " + code);
            }
            boolean fits = switch (pc) {
                case EMPTY -> count == 0;
                case ALL -> count == numel;
                case RICE -> count > 0;
                case RICE_COMPLEMENT -> count < numel;
                case FIXED_MASK -> true;
            };
            if (!fits) {
                throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": position coding " + pc + " cannot hold " + count + " of " + numel + " entries");
            }
            if (pc == PositionCoding.RICE || pc == PositionCoding.RICE_COMPLEMENT) {
                rice = r.u8();
                if (rice > Positions.MAX_RICE) {
                    throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": Rice parameter " + rice + " exceeds " + Positions.MAX_RICE);
                }
            } else if (pc == PositionCoding.FIXED_MASK) {
                digest = r.bytes(DIGEST);
            }
        } else {
            if (sem != Semantics.ADD || dims != 2) {
                throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": low-rank form needs an ADD delta of a 2-D tensor");
            }
            long rk = r.varint("factor rank");
            if (rk < 1 || rk > Math.min(shape[0], shape[1])) {
                throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": factor rank " + rk + " outside [1, " + Math.min(shape[0], shape[1]) + "]");
            }
            factorRank = (int) rk;
            count = numel;
        }
        int vcode = r.u8();
        ValueCoding vc = ValueCoding.fromCode(vcode);
        if (vc == null) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": unknown value coding " + vcode);
        }
        if (sem == Semantics.SET && vc != ValueCoding.EXACT) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": SET delta with lossy value coding " + vc);
        }
        int block = 0;
        if (vc == ValueCoding.INT8) {
            long b = r.varint("int8 block size");
            if (b < 1 || b > EncodeOptions.MAX_INT8_BLOCK) {
                throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": int8 block size " + b + " outside [1, " + EncodeOptions.MAX_INT8_BLOCK + "]");
            }
            block = (int) b;
        }
        Section ps = Section.NONE;
        if (form == Form.SPARSE) {
            ps = readSection(r, what + " positions");
            long m = pc == PositionCoding.RICE ? count : numel - count;
            boolean ok = switch (pc) {
                case EMPTY, ALL, FIXED_MASK -> ps.rawBytes() == 0 && ps.storedBytes() == 0;
                case RICE, RICE_COMPLEMENT -> ps.rawBytes() >= Positions.riceMinBytes(m, rice) && ps.rawBytes() <= Positions.riceMaxBytes(m, rice, numel);
            };
            if (!ok) {
                throw new CorruptDeltaException(Reason.BAD_POSITIONS, what + ": positions section of " + ps.rawBytes() + " bytes does not fit " + pc + " with " + count + " of " + numel + " entries");
            }
        }
        DeltaHeader h = new DeltaHeader(VERSION, form, info, sem, count, pc, rice, digest, vc, block, factorRank, ps, Section.NONE);
        Section vs = readSection(r, what + " values");
        long want = Values.rawBytes(vc, sem == Semantics.SET ? dtype : DType.F32, h.valueCount(), Math.max(block, 1));
        if (vs.rawBytes() != want) {
            throw new CorruptDeltaException(Reason.BAD_VALUES, what + ": values section of " + vs.rawBytes() + " bytes, expected " + want);
        }
        if (r.remaining() != 0) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": " + r.remaining() + " unread header bytes");
        }
        return new DeltaHeader(VERSION, form, info, sem, count, pc, rice, digest, vc, block, factorRank, ps, vs);
    }

    private static Section readSection(In r, String what) {
        Compression c = enumAt(Compression.values(), r.u8(), what + " compression");
        long raw = r.varint(what + " raw length");
        long stored = r.varint(what + " stored length");
        if (c == Compression.NONE && stored != raw) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": stored length " + stored + " != raw length " + raw + " without compression");
        }
        if (c == Compression.ZSTD && (stored == 0 || stored >= raw || raw / stored >= Zstd.MAX_RATIO)) {
            throw new CorruptDeltaException(Reason.BAD_COMPRESSION, what + ": " + stored + " zstd bytes cannot expand to " + raw);
        }
        return new Section(c, raw, stored);
    }

    private static <E> E enumAt(E[] values, int code, String field) {
        if (code >= values.length) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, "delta header: unknown " + field + " code " + code);
        }
        return values[code];
    }

    private static String utf8(byte[] b) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b)).toString();
        } catch (CharacterCodingException e) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, "delta header: tensor name is not UTF-8 (" + HexFormat.of().formatHex(b, 0, Math.min(b.length, 16)) + ")");
        }
    }

    private static final class Out extends ByteArrayOutputStream {
        void u8(int v) {
            write(v);
        }

        void bytes(byte[] b) {
            write(b, 0, b.length);
        }

        void varint(long v) {
            if (v < 0) {
                throw new IllegalArgumentException("negative varint " + v);
            }
            while (v >= 0x80) {
                write((int) (v & 0x7f) | 0x80);
                v >>>= 7;
            }
            write((int) v);
        }
    }

    /** Bounds-checked reader; every overrun is a TRUNCATED error naming the field. */
    private static final class In {
        final MemorySegment seg;
        final String what;
        long at;

        In(MemorySegment seg, String what) {
            this.seg = seg;
            this.what = what;
        }

        long remaining() {
            return seg.byteSize() - at;
        }

        int u8() {
            if (at >= seg.byteSize()) {
                throw new CorruptDeltaException(Reason.TRUNCATED, what + ": ends at offset " + at);
            }
            return seg.get(ValueLayout.JAVA_BYTE, at++) & 0xff;
        }

        byte[] bytes(int n) {
            if (remaining() < n) {
                throw new CorruptDeltaException(Reason.TRUNCATED, what + ": ends at offset " + at + " inside a " + n + "-byte field");
            }
            byte[] b = new byte[n];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, at, b, 0, n);
            at += n;
            return b;
        }

        long varint(String field) {
            long v = 0;
            for (int shift = 0; ; shift += 7) {
                if (at >= seg.byteSize()) {
                    throw new CorruptDeltaException(Reason.TRUNCATED, what + ": ends inside " + field + " at offset " + at);
                }
                int b = seg.get(ValueLayout.JAVA_BYTE, at++) & 0xff;
                if (shift == 63) {
                    throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": " + field + " exceeds 63 bits");
                }
                v |= (long) (b & 0x7f) << shift;
                if ((b & 0x80) == 0) {
                    if (b == 0 && shift > 0) {
                        throw new CorruptDeltaException(Reason.BAD_HEADER, what + ": " + field + " is not a canonical varint");
                    }
                    return v;
                }
            }
        }
    }
}
