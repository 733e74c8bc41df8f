package dev.merit.codec;

import dev.merit.codec.CorruptDeltaException.Reason;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The chunk layer: an encoded delta is a sequence of frames, each
 * {@code u32 payloadLength | u32 crc32c(u32 frameIndex, payload) | payload}, all little-endian.
 * Concatenated payloads form the logical stream ({@link Wire}). The frame index in the checksum
 * catches chunks that are reordered, dropped or repeated, not only flipped bits.
 */
final class Frames {

    static final int HEADER = 8;
    static final int MIN_CHUNK = 64;
    static final int MAX_CHUNK = 16 << 20;
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Frames() {}

    static long framedSize(long logicalBytes, int chunkBytes) {
        long payload = chunkBytes - HEADER;
        long frames = Math.max(1, (logicalBytes + payload - 1) / payload);
        return logicalBytes + frames * HEADER;
    }

    /** Writes {@code logical} as frames of at most {@code chunkBytes} into {@code out} (sized by {@link #framedSize}). */
    static void frame(MemorySegment logical, int chunkBytes, MemorySegment out) {
        long payloadMax = chunkBytes - HEADER;
        long in = 0, at = 0;
        int seq = 0;
        do {
            long len = Math.min(payloadMax, logical.byteSize() - in);
            MemorySegment payload = logical.asSlice(in, len);
            out.set(U32, at, (int) len);
            out.set(U32, at + 4, crc(seq, payload));
            MemorySegment.copy(payload, 0, out, at + HEADER, len);
            in += len;
            at += HEADER + len;
            seq++;
        } while (in < logical.byteSize());
    }

    static int crc(int seq, MemorySegment payload) {
        CRC32C crc = new CRC32C();
        crc.update(seq & 0xff);
        crc.update((seq >>> 8) & 0xff);
        crc.update((seq >>> 16) & 0xff);
        crc.update(seq >>> 24);
        crc.update(payload.asByteBuffer());
        return (int) crc.getValue();
    }

    /**
     * Reads the frame header at {@code at}; returns its payload length after checking it, or
     * throws. Does not verify the checksum (see {@link #verify}).
     */
    static int payloadLength(MemorySegment blob, long at, int seq) {
        if (blob.byteSize() - at < HEADER) {
            throw new CorruptDeltaException(Reason.TRUNCATED, "delta chunk " + seq + " at offset " + at + ": header cut short");
        }
        int len = blob.get(U32, at);
        if (len <= 0 || len > MAX_CHUNK - HEADER) {
            throw new CorruptDeltaException(Reason.BAD_CHUNK, "delta chunk " + seq + " at offset " + at + ": payload length " + Integer.toUnsignedString(len) + " out of range");
        }
        if (blob.byteSize() - at - HEADER < len) {
            throw new CorruptDeltaException(Reason.TRUNCATED, "delta chunk " + seq + " at offset " + at + ": payload of " + len + " bytes cut short");
        }
        return len;
    }

    static void verify(MemorySegment blob, long at, int seq, int len) {
        int want = blob.get(U32, at + 4);
        int got = crc(seq, blob.asSlice(at + HEADER, len));
        if (want != got) {
            throw new CorruptDeltaException(Reason.BAD_CHUNK, "delta chunk " + seq + " at offset " + at + ": checksum mismatch");
        }
    }

    /** Verifies every frame of {@code blob} and returns the logical length. */
    static long scan(MemorySegment blob) {
        if (blob.byteSize() == 0) {
            throw new CorruptDeltaException(Reason.TRUNCATED, "delta: empty input");
        }
        long at = 0, logical = 0;
        int seq = 0, first = 0;
        while (at < blob.byteSize()) {
            int len = payloadLength(blob, at, seq);
            verify(blob, at, seq, len);
            boolean last = at + HEADER + len == blob.byteSize();
            if (seq == 0) {
                first = len;
            }
            checkCanonical(seq, len, first, last);
            logical += len;
            at += HEADER + len;
            seq++;
        }
        return logical;
    }

    /**
     * Only the encoder's framing is accepted: every frame but the last carries the same payload
     * length, at least {@code MIN_CHUNK - HEADER}, and the last no more. This keeps encodings
     * canonical and bounds framing overhead on hostile input.
     */
    static void checkCanonical(int seq, int len, int first, boolean last) {
        if (!last && (len != first || first + HEADER < MIN_CHUNK)) {
            throw new CorruptDeltaException(Reason.BAD_CHUNK, "delta chunk " + seq + ": payload length " + len + " breaks the chunking of chunk 0 (" + first + ")");
        }
        if (last && len > first) {
            throw new CorruptDeltaException(Reason.BAD_CHUNK, "delta chunk " + seq + ": last payload " + len + " longer than chunk 0's " + first);
        }
    }

    /** Copies the payloads of a {@link #scan scanned} blob into {@code logical}. */
    static void unframe(MemorySegment blob, MemorySegment logical) {
        long at = 0, to = 0;
        while (at < blob.byteSize()) {
            int len = blob.get(U32, at);
            MemorySegment.copy(blob, at + HEADER, logical, to, len);
            to += len;
            at += HEADER + len;
        }
    }
}
