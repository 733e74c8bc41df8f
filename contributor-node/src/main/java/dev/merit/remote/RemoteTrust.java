package dev.merit.remote;

import dev.merit.error.InvalidInputException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * How a client decides to trust a coordinator's TLS certificate: the system's certificate
 * authorities, the authorities of a CA file (chain and host name are verified as usual), or one
 * pinned certificate (accepted exactly when the SHA-256 of its DER encoding matches).
 */
public sealed interface RemoteTrust {

    /** The JDK's default trust store. */
    record SystemCas() implements RemoteTrust {}

    /** Certificate authorities from a PEM file, kept as PEM text so the repository does not depend on the file. */
    record CaCertificates(String pem, String source) implements RemoteTrust {
        public CaCertificates {
            certificates(pem, source);
        }

        public List<X509Certificate> certificates() {
            return certificates(pem, source);
        }

        private static List<X509Certificate> certificates(String pem, String source) {
            try {
                List<X509Certificate> certs = CertificateFactory.getInstance("X.509")
                        .generateCertificates(new ByteArrayInputStream(pem.getBytes(StandardCharsets.US_ASCII)))
                        .stream().map(X509Certificate.class::cast).toList();
                if (certs.isEmpty()) {
                    throw new InvalidInputException("CA file " + source + " holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)");
                }
                return certs;
            } catch (CertificateException e) {
                throw new InvalidInputException("CA file " + source + " is not PEM X.509 certificates: " + e.getMessage());
            }
        }
    }

    /** Exactly the certificate with this SHA-256 fingerprint (lower-case hex of its DER encoding). */
    record Pin(String sha256Hex) implements RemoteTrust {
        @Override
        public String toString() {
            return "sha256:" + sha256Hex;
        }
    }

    static RemoteTrust system() {
        return new SystemCas();
    }

    /** Reads a PEM CA file; refuses, naming the file, one that cannot be read or holds no certificate. */
    static RemoteTrust caFile(Path file) {
        try {
            return new CaCertificates(Files.readString(file, StandardCharsets.US_ASCII), file.toString());
        } catch (IOException e) {
            throw new InvalidInputException("cannot read CA file " + file + ": " + e.getClass().getSimpleName() + " " + e.getMessage());
        }
    }

    /** Parses {@code sha256:HEX} (64 hex digits, colons allowed as openssl prints them). */
    static RemoteTrust pin(String pin) {
        String p = pin.trim();
        if (!p.toLowerCase(Locale.ROOT).startsWith("sha256:")) {
            throw new InvalidInputException("--pin '" + pin + "': expected sha256:HEX (the SHA-256 of the certificate, as merit serve prints it)");
        }
        String hex = p.substring("sha256:".length()).replace(":", "").toLowerCase(Locale.ROOT);
        if (!hex.matches("[0-9a-f]{64}")) {
            throw new InvalidInputException("--pin '" + pin + "': expected 64 hex digits after sha256:");
        }
        return new Pin(hex);
    }

    /** {@code sha256:HEX} of a certificate's DER encoding. */
    static String fingerprint(X509Certificate cert) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 of a certificate", e);
        }
    }
}
