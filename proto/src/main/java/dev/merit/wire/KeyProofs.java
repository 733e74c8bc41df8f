package dev.merit.wire;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * What a contributor signs with a signing key to prove they hold it when they change their keys:
 * the rotation to a new key is signed by the key it replaces, and an owner's revocation of their
 * current key is signed by that key. Each message is domain-separated and length-prefixed, so a
 * signature over one can never pass for a proposal signature or for another message.
 */
public final class KeyProofs {

    private static final String ROTATION = "merit-key-rotation\0v1\0";
    private static final String REVOCATION = "merit-key-revocation\0v1\0";

    private KeyProofs() {}

    /** The message the old key signs to hand {@code contributor}'s proposals over to {@code newPublicKey} (X.509). */
    public static byte[] rotation(String contributor, String oldFingerprint, byte[] newPublicKey) {
        return message(ROTATION, contributor.getBytes(StandardCharsets.UTF_8), oldFingerprint.getBytes(StandardCharsets.US_ASCII),
                newPublicKey);
    }

    /** The message a key signs to revoke itself as {@code contributor}'s key {@code fingerprint}. */
    public static byte[] revocation(String contributor, String fingerprint) {
        return message(REVOCATION, contributor.getBytes(StandardCharsets.UTF_8), fingerprint.getBytes(StandardCharsets.US_ASCII));
    }

    private static byte[] message(String domain, byte[]... fields) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(domain.getBytes(StandardCharsets.US_ASCII));
        for (byte[] f : fields) {
            out.writeBytes(ByteBuffer.allocate(Integer.BYTES).putInt(f.length).array());
            out.writeBytes(f);
        }
        return out.toByteArray();
    }
}
