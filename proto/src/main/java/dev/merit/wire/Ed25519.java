package dev.merit.wire;

import dev.merit.error.InvalidInputException;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.HexFormat;

/**
 * Ed25519 keys and signatures from the JDK, as contributors sign proposal digests and the
 * coordinator verifies them. Public keys travel in their X.509 encoding, private keys are kept
 * (by the contributor only) in PKCS#8.
 */
public final class Ed25519 {

    private static final String ALG = "Ed25519";

    private Ed25519() {}

    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance(ALG).generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK has no Ed25519", e);
        }
    }

    public static byte[] sign(PrivateKey key, byte[] message) {
        try {
            Signature s = Signature.getInstance(ALG);
            s.initSign(key);
            s.update(message);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new InvalidInputException("cannot sign with this key: " + e.getMessage());
        }
    }

    /** True if {@code signature} is {@code publicKey}'s signature of {@code message}; false for any malformed input. */
    public static boolean verify(byte[] publicKey, byte[] message, byte[] signature) {
        try {
            Signature s = Signature.getInstance(ALG);
            s.initVerify(publicKey(publicKey));
            s.update(message);
            return s.verify(signature);
        } catch (GeneralSecurityException | InvalidInputException e) {
            return false;
        }
    }

    public static PublicKey publicKey(byte[] x509) {
        try {
            return KeyFactory.getInstance(ALG).generatePublic(new X509EncodedKeySpec(x509));
        } catch (GeneralSecurityException e) {
            throw new InvalidInputException("not an Ed25519 public key (X.509 encoding expected): " + e.getMessage());
        }
    }

    public static PrivateKey privateKey(byte[] pkcs8) {
        try {
            return KeyFactory.getInstance(ALG).generatePrivate(new PKCS8EncodedKeySpec(pkcs8));
        } catch (GeneralSecurityException e) {
            throw new InvalidInputException("not an Ed25519 private key (PKCS#8 encoding expected): " + e.getMessage());
        }
    }

    /** A short name for a public key: the first 16 hex digits of its SHA-256. */
    public static String fingerprint(byte[] publicKey) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(publicKey), 0, 8);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
