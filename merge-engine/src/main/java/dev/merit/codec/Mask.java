package dev.merit.codec;

import dev.merit.delta.SparseTensorDelta;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A set of positions in a tensor that sender and receiver both hold (for example a FISH mask
 * fixed for a training round), so deltas on it need not carry their positions.
 *
 * @param numel     number of entries of the tensor the mask is for
 * @param count     number of positions
 * @param positions {@code count} int64 little-endian positions, strictly ascending, in [0, numel)
 */
public record Mask(long numel, long count, MemorySegment positions) {

    public Mask {
        if (numel < 0 || count < 0 || count > numel || positions.byteSize() < count * Long.BYTES) {
            throw new IllegalArgumentException("mask: bad sizes (numel " + numel + ", count " + count + ")");
        }
    }

    /** The positions of {@code delta} as a mask (sharing its memory). */
    public static Mask of(SparseTensorDelta delta) {
        return new Mask(delta.info().numel(), delta.count(), delta.positions());
    }

    public long position(long i) {
        return positions.getAtIndex(SparseTensorDelta.POSITION, i);
    }

    /** SHA-256 over a domain tag, numel, count and the positions: the mask's identity on the wire. */
    public byte[] digest() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update("merit-mask-v1\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            ByteBuffer head = ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(numel).putLong(count).flip();
            md.update(head);
            long bytes = count * Long.BYTES;
            for (long off = 0; off < bytes; off += 1 << 20) {
                md.update(positions.asSlice(off, Math.min(1 << 20, bytes - off)).asByteBuffer());
            }
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }

    public String digestHex() {
        return HexFormat.of().formatHex(digest());
    }

    /** Looks masks up by digest on the receiving side. */
    @FunctionalInterface
    public interface Resolver {
        /** The mask with this SHA-256 digest, or null if this receiver does not have it. */
        Mask find(byte[] digest);

        Resolver NONE = digest -> null;
    }
}
