package dev.merit.coordinator.tls;

import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import io.grpc.netty.shaded.io.grpc.netty.GrpcSslContexts;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContext;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslContextBuilder;
import io.grpc.netty.shaded.io.netty.handler.ssl.SslProvider;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;

/**
 * The coordinator's certificate chain and private key, checked to belong together, and the TLS
 * contexts built from them: one for the gRPC port (Netty) and one for the HTTP port (JDK).
 *
 * <p>Both ports use the JDK's TLS implementation, so they negotiate the same protocols and
 * ciphers and no native library is loaded.
 */
public final class ServerTls {

    private static final char[] IN_MEMORY = "merit".toCharArray();

    private final List<X509Certificate> chain;
    private final PrivateKey key;
    private final String source;

    private ServerTls(List<X509Certificate> chain, PrivateKey key, String source) {
        this.chain = List.copyOf(chain);
        this.key = Objects.requireNonNull(key);
        this.source = source;
        checkPair(chain.getFirst(), key, source);
    }

    /**
     * Reads a PEM certificate chain (the server's certificate first) and a PEM PKCS#8 private key
     * (RSA or EC). Refuses, naming the file, one that cannot be read or parsed, a certificate that
     * is expired or not yet valid, and a key that does not belong to the certificate.
     */
    public static ServerTls fromPem(Path certFile, Path keyFile) {
        List<X509Certificate> chain = readCertificates(certFile);
        PrivateKey key = readPrivateKey(keyFile);
        try {
            chain.getFirst().checkValidity();
        } catch (CertificateException e) {
            throw new InvalidInputException("TLS certificate " + certFile + " is not valid now: " + e.getMessage());
        }
        return new ServerTls(chain, key, "key " + keyFile + ", certificate " + certFile);
    }

    static ServerTls of(X509Certificate cert, PrivateKey key, String source) {
        return new ServerTls(List.of(cert), key, source);
    }

    /** The server's own certificate (the first of the chain). */
    public X509Certificate certificate() {
        return chain.getFirst();
    }

    /** {@code sha256:HEX}: the SHA-256 of the certificate's DER encoding, what clients pin. */
    public String fingerprint() {
        return fingerprint(certificate());
    }

    public static String fingerprint(X509Certificate cert) {
        try {
            return "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 of a certificate", e);
        }
    }

    /** Where the certificate and key came from, for messages. */
    public String source() {
        return source;
    }

    /** For the HTTP port ({@code HttpsServer}). */
    public SSLContext sslContext() {
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(keyManagers().getKeyManagers(), null, null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new MeritException("cannot set up TLS with " + source + ": " + e.getMessage(), e);
        }
    }

    /** For the gRPC port (Netty, HTTP/2 with ALPN). */
    public SslContext grpcContext() {
        try {
            return GrpcSslContexts.configure(SslContextBuilder.forServer(keyManagers()), SslProvider.JDK).build();
        } catch (IOException e) {
            throw new MeritException("cannot set up TLS for gRPC with " + source + ": " + e.getMessage(), e);
        }
    }

    private KeyManagerFactory keyManagers() {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("merit", key, IN_MEMORY, chain.toArray(X509Certificate[]::new));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, IN_MEMORY);
            return kmf;
        } catch (GeneralSecurityException | IOException e) {
            throw new MeritException("cannot load the TLS key of " + source + ": " + e.getMessage(), e);
        }
    }

    static List<X509Certificate> readCertificates(Path file) {
        byte[] bytes = read(file, "TLS certificate");
        try {
            List<X509Certificate> certs = CertificateFactory.getInstance("X.509").generateCertificates(new ByteArrayInputStream(bytes))
                    .stream().map(X509Certificate.class::cast).toList();
            if (certs.isEmpty()) {
                throw new InvalidInputException("TLS certificate " + file + " holds no certificate (expected PEM: -----BEGIN CERTIFICATE-----)");
            }
            return certs;
        } catch (CertificateException e) {
            throw new InvalidInputException("TLS certificate " + file + " is not a PEM X.509 certificate: " + e.getMessage());
        }
    }

    static PrivateKey readPrivateKey(Path file) {
        String pem = new String(read(file, "TLS key"), StandardCharsets.US_ASCII);
        if (pem.contains("-----BEGIN RSA PRIVATE KEY-----") || pem.contains("-----BEGIN EC PRIVATE KEY-----")) {
            throw new InvalidInputException("TLS key " + file + " is in the traditional (PKCS#1/SEC1) format; convert it to PKCS#8 with"
                    + " openssl pkcs8 -topk8 -nocrypt -in " + file.getFileName() + " -out key.pem");
        }
        if (pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
            throw new InvalidInputException("TLS key " + file + " is encrypted; give an unencrypted PKCS#8 key (file mode 0600)");
        }
        String begin = "-----BEGIN PRIVATE KEY-----";
        String end = "-----END PRIVATE KEY-----";
        int b = pem.indexOf(begin);
        int e = pem.indexOf(end, Math.max(b, 0));
        if (b < 0 || e < 0) {
            throw new InvalidInputException("TLS key " + file + " is not a PEM PKCS#8 private key (expected " + begin + ")");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(pem.substring(b + begin.length(), e));
        } catch (IllegalArgumentException x) {
            throw new InvalidInputException("TLS key " + file + ": bad base64 in the PEM block: " + x.getMessage());
        }
        for (String alg : List.of("RSA", "EC")) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException ignored) {
                // try the next algorithm
            }
        }
        throw new InvalidInputException("TLS key " + file + " is not an RSA or EC PKCS#8 private key");
    }

    private static byte[] read(Path file, String what) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new InvalidInputException("cannot read " + what + " " + file + ": " + e.getClass().getSimpleName() + " " + e.getMessage());
        }
    }

    /** Signs a probe with the key and verifies it with the certificate: do they belong together? */
    private static void checkPair(X509Certificate cert, PrivateKey key, String source) {
        String certAlg = cert.getPublicKey().getAlgorithm();
        if (!certAlg.equals(key.getAlgorithm())) {
            throw new InvalidInputException("TLS key and certificate do not match (" + source + "): the key is " + key.getAlgorithm()
                    + ", the certificate's public key is " + certAlg);
        }
        String sigAlg = switch (certAlg) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            default -> throw new InvalidInputException("TLS certificate (" + source + ") has a " + certAlg + " key; use RSA or EC");
        };
        byte[] probe = "merit: does this key belong to this certificate?".getBytes(StandardCharsets.US_ASCII);
        try {
            Signature s = Signature.getInstance(sigAlg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(sigAlg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            if (!v.verify(sig)) {
                throw new InvalidInputException("TLS key and certificate do not match (" + source + "): the key is not the certificate's");
            }
        } catch (GeneralSecurityException e) {
            throw new InvalidInputException("TLS key and certificate do not match (" + source + "): " + e.getMessage());
        }
    }
}
