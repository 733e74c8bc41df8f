package dev.merit.codec;

import dev.merit.codec.CorruptDeltaException.Reason;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Optional;

/**
 * Receives an encoding in pieces of any size (gRPC messages, socket reads), checking each chunk's
 * length and checksum as soon as it is complete and the header as soon as it has arrived, so a bad
 * or oversized upload fails early. Memory is bounded: before the header, by the chunk limit; after
 * it, by the exact size the header implies. Not thread-safe.
 *
 * <pre>{@code
 * try (DeltaChunkReader in = new DeltaChunkReader(DecodeOptions.defaults().expecting(info))) {
 *     for (byte[] piece : pieces) in.accept(MemorySegment.ofArray(piece));
 *     if (!in.isComplete()) throw ...;
 *     store(in.encoded());                  // the exact bytes the sender encoded
 *     DecodedDelta d = in.decode(arena);
 * }
 * }</pre>
 */
public final class DeltaChunkReader implements AutoCloseable {

    private static final long PRE_HEADER_LIMIT = Frames.MAX_CHUNK + 4L * Wire.MAX_HEADER;

    private final DecodeOptions options;
    private Arena arena = Arena.ofShared();
    private MemorySegment buf = arena.allocate(4096, 8);
    private long size;
    private long scanned;
    private int seq;
    private int first;
    private boolean sawShort;
    private long logicalSeen;
    private ByteArrayOutputStream head = new ByteArrayOutputStream();
    private DeltaHeader header;
    private long total = -1;
    private long expectedBytes = -1;
    private boolean complete;

    public DeltaChunkReader(DecodeOptions options) {
        this.options = options;
    }

    /** Appends the next piece; throws {@link CorruptDeltaException} as soon as the input is known bad. */
    public void accept(MemorySegment piece) {
        long len = piece.byteSize();
        if (len == 0) {
            return;
        }
        if (complete || (expectedBytes >= 0 && size + len > expectedBytes)) {
            throw new CorruptDeltaException(Reason.TRAILING_DATA, "delta: data past the declared end (offset " + size + ")");
        }
        if (expectedBytes < 0 && size + len > PRE_HEADER_LIMIT) {
            throw new CorruptDeltaException(Reason.BAD_HEADER, "delta: no complete header in the first " + PRE_HEADER_LIMIT + " bytes");
        }
        reserve(size + len);
        MemorySegment.copy(piece, 0, buf, size, len);
        size += len;
        scanFrames();
    }

    public void accept(byte[] piece) {
        accept(MemorySegment.ofArray(piece));
    }

    private void reserve(long need) {
        if (need <= buf.byteSize()) {
            return;
        }
        long cap = Math.max(need, Math.min(buf.byteSize() * 2, expectedBytes >= 0 ? expectedBytes : Long.MAX_VALUE));
        Arena next = Arena.ofShared();
        MemorySegment grown = next.allocate(cap, 8);
        MemorySegment.copy(buf, 0, grown, 0, size);
        arena.close();
        arena = next;
        buf = grown;
    }

    private void scanFrames() {
        while (size - scanned >= Frames.HEADER) {
            int len = buf.get(Frames.U32, scanned);
            if (len <= 0 || len > Frames.MAX_CHUNK - Frames.HEADER) {
                throw new CorruptDeltaException(Reason.BAD_CHUNK, "delta chunk " + seq + " at offset " + scanned + ": payload length " + Integer.toUnsignedString(len) + " out of range");
            }
            if (size - scanned - Frames.HEADER < len) {
                return;
            }
            Frames.verify(buf, scanned, seq, len);
            if (seq == 0) {
                first = len;
            } else if (sawShort || len > first || first + Frames.HEADER < Frames.MIN_CHUNK) {
                throw new CorruptDeltaException(Reason.BAD_CHUNK, "delta chunk " + seq + ": payload length " + len + " breaks the chunking of chunk 0 (" + first + ")");
            }
            sawShort |= len < first;
            if (header == null) {
                byte[] payload = buf.asSlice(scanned + Frames.HEADER, len).toArray(ValueLayout.JAVA_BYTE);
                head.write(payload, 0, payload.length);
            }
            logicalSeen += len;
            scanned += Frames.HEADER + len;
            seq++;
            if (header == null) {
                MemorySegment h = MemorySegment.ofArray(head.toByteArray());
                long end = Wire.prefixLength(h);
                if (end >= 0) {
                    header = Wire.parse(h, options);
                    total = end + header.positions().storedBytes() + header.values().storedBytes();
                    expectedBytes = Frames.framedSize(total, first + Frames.HEADER);
                    head = null;
                    if (size > expectedBytes) {
                        throw new CorruptDeltaException(Reason.TRAILING_DATA, "delta: data past the declared end (offset " + expectedBytes + ")");
                    }
                    reserve(expectedBytes);
                }
            }
            if (total >= 0) {
                if (logicalSeen > total) {
                    throw new CorruptDeltaException(Reason.TRAILING_DATA, "delta: chunk " + (seq - 1) + " runs past the declared end");
                }
                if (logicalSeen == total) {
                    complete = true;
                } else if (sawShort) {
                    throw new CorruptDeltaException(Reason.BAD_CHUNK, "delta chunk " + (seq - 1) + ": short chunk before the end");
                }
            }
        }
    }

    /** True once every declared byte has arrived and been checked. */
    public boolean isComplete() {
        return complete;
    }

    /** The header, once it has arrived. */
    public Optional<DeltaHeader> header() {
        return Optional.ofNullable(header);
    }

    /** The complete encoding (valid until {@link #close()}). */
    public MemorySegment encoded() {
        if (!complete) {
            throw new CorruptDeltaException(Reason.TRUNCATED, "delta: incomplete after " + size + " bytes" + (total >= 0 ? " of " + expectedBytes : ""));
        }
        return buf.asSlice(0, size);
    }

    /** Decodes the complete encoding into {@code out}. */
    public DecodedDelta decode(Arena out) {
        return DeltaCodec.decode(encoded(), options, out);
    }

    @Override
    public void close() {
        arena.close();
    }
}
