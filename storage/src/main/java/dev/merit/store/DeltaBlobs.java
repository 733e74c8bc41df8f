package dev.merit.store;

import com.github.luben.zstd.Zstd;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The stored form of a lossless (SET) tensor delta: "MDS1", count, positions as varint gaps,
 * then the new values in the tensor's dtype, the whole compressed with zstd.
 */
final class DeltaBlobs {

    private static final int MAGIC = 0x3153444d; // "MDS1" little-endian

    private DeltaBlobs() {}

    static byte[] encode(SparseTensorDelta d) {
        if (d.semantics() != SparseTensorDelta.Semantics.SET) {
            throw new IllegalArgumentException("stored deltas are SET deltas");
        }
        int valueBytes = d.info().dtype().byteSize();
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 16, d.count() * (2 + valueBytes) + 16));
        writeInt(out, MAGIC);
        writeVarLong(out, d.count());
        long prev = -1;
        for (long i = 0; i < d.count(); i++) {
            long p = d.position(i);
            writeVarLong(out, p - prev - 1);
            prev = p;
        }
        byte[] values = d.values().asSlice(0, d.count() * valueBytes).toArray(ValueLayout.JAVA_BYTE);
        out.writeBytes(values);
        byte[] raw = out.toByteArray();
        byte[] packed = Zstd.compress(raw, 3);
        ByteBuffer b = ByteBuffer.allocate(packed.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(raw.length).put(packed);
        return b.array();
    }

    static SparseTensorDelta decode(String where, TensorInfo info, byte[] blob, Arena arena) {
        ByteBuffer b = ByteBuffer.wrap(blob).order(ByteOrder.LITTLE_ENDIAN);
        int rawLen = b.getInt();
        byte[] raw = Zstd.decompress(java.util.Arrays.copyOfRange(blob, 4, blob.length), rawLen);
        ByteBuffer in = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        if (in.getInt() != MAGIC) {
            throw new StoreException(where + ": not a Merit delta blob");
        }
        long count = readVarLong(in);
        long numel = info.numel();
        if (count < 0 || count > numel) {
            throw new StoreException(where + ": delta count " + count + " exceeds tensor size " + numel);
        }
        int valueBytes = info.dtype().byteSize();
        MemorySegment positions = arena.allocate(Math.max(1, count * Long.BYTES), Long.BYTES);
        long prev = -1;
        for (long i = 0; i < count; i++) {
            long p = prev + 1 + readVarLong(in);
            if (p >= numel) {
                throw new StoreException(where + ": delta position " + p + " out of range for " + numel + " entries");
            }
            positions.setAtIndex(SparseTensorDelta.POSITION, i, p);
            prev = p;
        }
        MemorySegment values = arena.allocate(Math.max(1, count * valueBytes));
        MemorySegment.copy(MemorySegment.ofArray(raw), in.position(), values, 0, count * valueBytes);
        return new SparseTensorDelta(info, SparseTensorDelta.Semantics.SET, count, positions, values);
    }

    private static void writeInt(ByteArrayOutputStream out, int v) {
        for (int i = 0; i < 4; i++) {
            out.write(v >>> (8 * i));
        }
    }

    private static void writeVarLong(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static long readVarLong(ByteBuffer in) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte b = in.get();
            v |= (long) (b & 0x7f) << shift;
            if (b >= 0) {
                return v;
            }
        }
        throw new StoreException("malformed varint in delta blob");
    }
}
