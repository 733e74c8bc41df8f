package dev.merit.store;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/** An immutable SHA-256 content id of a stored object. */
public final class ObjectId implements Comparable<ObjectId> {

    public static final int LENGTH = 32;
    private static final HexFormat HEX = HexFormat.of();

    private final byte[] raw;

    private ObjectId(byte[] raw) {
        this.raw = raw;
    }

    public static ObjectId fromRaw(byte[] raw) {
        if (raw.length != LENGTH) {
            throw new IllegalArgumentException("object id must be " + LENGTH + " bytes, got " + raw.length);
        }
        return new ObjectId(raw.clone());
    }

    /** Parses 64 hex digits; throws {@link IllegalArgumentException} otherwise. */
    public static ObjectId fromString(String hex) {
        if (!isFullHex(hex)) {
            throw new IllegalArgumentException("not a 64-digit hex object id: '" + hex + "'");
        }
        return new ObjectId(HEX.parseHex(hex));
    }

    public static boolean isFullHex(String s) {
        return s.length() == 2 * LENGTH && s.chars().allMatch(c -> Character.digit(c, 16) >= 0);
    }

    static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by the JDK spec", e);
        }
    }

    static ObjectId fromDigest(MessageDigest md) {
        return new ObjectId(md.digest());
    }

    public byte[] toRaw() {
        return raw.clone();
    }

    byte[] rawUnsafe() {
        return raw;
    }

    public String name() {
        return HEX.formatHex(raw);
    }

    /** The first {@code n} hex digits, as shown by {@code merit log --oneline}. */
    public String abbreviate(int n) {
        return name().substring(0, Math.min(n, 2 * LENGTH));
    }

    @Override
    public int compareTo(ObjectId o) {
        return Arrays.compareUnsigned(raw, o.raw);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ObjectId other && Arrays.equals(raw, other.raw);
    }

    @Override
    public int hashCode() {
        return (raw[0] & 0xff) << 24 | (raw[1] & 0xff) << 16 | (raw[2] & 0xff) << 8 | (raw[3] & 0xff);
    }

    @Override
    public String toString() {
        return name();
    }
}
