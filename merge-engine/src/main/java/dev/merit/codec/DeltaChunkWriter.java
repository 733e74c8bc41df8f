package dev.merit.codec;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Splits an encoding into its chunks for transport (one gRPC message each). Each chunk is no
 * larger than the {@link EncodeOptions#chunkBytes()} the delta was encoded with, and carries its
 * own length and CRC-32C, so a receiver ({@link DeltaChunkReader}) checks each as it arrives.
 */
public final class DeltaChunkWriter {

    private DeltaChunkWriter() {}

    /** The chunks of {@code encoded}, as slices (no copies), in order. */
    public static List<MemorySegment> chunks(MemorySegment encoded) {
        List<MemorySegment> out = new ArrayList<>();
        long at = 0;
        int seq = 0;
        while (at < encoded.byteSize()) {
            int len = Frames.payloadLength(encoded, at, seq++);
            out.add(encoded.asSlice(at, Frames.HEADER + len));
            at += Frames.HEADER + len;
        }
        return out;
    }

    /** Writes the chunks to a stream in order (the encoding's bytes, unchanged). */
    public static void writeTo(MemorySegment encoded, OutputStream out) throws IOException {
        byte[] buf = new byte[64 << 10];
        for (long at = 0; at < encoded.byteSize(); at += buf.length) {
            int n = (int) Math.min(buf.length, encoded.byteSize() - at);
            MemorySegment.copy(encoded, ValueLayout.JAVA_BYTE, at, buf, 0, n);
            out.write(buf, 0, n);
        }
    }
}
