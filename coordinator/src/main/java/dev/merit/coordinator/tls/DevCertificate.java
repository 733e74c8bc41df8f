package dev.merit.coordinator.tls;

import dev.merit.error.MeritException;
import java.io.IOException;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A self-signed development certificate kept in the data directory ({@code tls/server.crt},
 * {@code tls/server.key} with mode 0600): made on first use for localhost, 127.0.0.1, ::1, the
 * machine's host name and the listen address, and reused afterwards, so a pinned fingerprint
 * stays valid across restarts. Delete both files to make a new one.
 */
public final class DevCertificate {

    static final String DIR = "tls";
    static final String CERT = "server.crt";
    static final String KEY = "server.key";
    static final Duration LIFETIME = Duration.ofDays(3650);

    private static final String EC_PUBLIC_KEY_SIGNED_WITH_SHA256 = "1.2.840.10045.4.3.2";
    private static final String RSA_SIGNED_WITH_SHA256 = "1.2.840.113549.1.1.11";
    private static final String COMMON_NAME = "2.5.4.3";
    private static final String SUBJECT_ALT_NAME = "2.5.29.17";
    private static final String EXTENDED_KEY_USAGE = "2.5.29.37";
    private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

    /** The certificate and key, and whether they were made just now. */
    public record Loaded(ServerTls tls, Path certFile, Path keyFile, boolean created) {}

    private DevCertificate() {}

    /** Loads the development certificate under {@code dataDir}, making it first if there is none. */
    public static Loaded loadOrCreate(Path dataDir, String listenHost) {
        Path dir = dataDir.resolve(DIR);
        Path cert = dir.resolve(CERT);
        Path key = dir.resolve(KEY);
        if (Files.exists(cert) || Files.exists(key)) {
            // A half-written pair (crash between the two writes) is reported, not silently replaced.
            return new Loaded(ServerTls.fromPem(cert, key), cert, key, false);
        }
        KeyPair kp = newKeyPair();
        X509Certificate x = selfSign(kp, names(listenHost), Instant.now());
        try {
            Files.createDirectories(dir);
            Path tmpKey = dir.resolve(KEY + ".tmp");
            Files.deleteIfExists(tmpKey);
            Files.createFile(tmpKey, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(tmpKey, pem("PRIVATE KEY", kp.getPrivate().getEncoded()), StandardOpenOption.TRUNCATE_EXISTING);
            Files.writeString(dir.resolve(CERT + ".tmp"), pem("CERTIFICATE", x.getEncoded()));
            Files.move(tmpKey, key, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            Files.move(dir.resolve(CERT + ".tmp"), cert, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | GeneralSecurityException e) {
            throw new MeritException("cannot write the development certificate into " + dir + ": " + e.getMessage(), e);
        }
        return new Loaded(ServerTls.fromPem(cert, key), cert, key, true);
    }

    /** The names the certificate is valid for: DNS names and IP addresses, loopback first. */
    static Names names(String listenHost) {
        Set<String> dns = new LinkedHashSet<>(List.of("localhost"));
        Set<String> ips = new LinkedHashSet<>(List.of("127.0.0.1", "::1"));
        try {
            dns.add(InetAddress.getLocalHost().getHostName());
        } catch (IOException e) {
            // no host name: loopback names only
        }
        if (listenHost != null && !listenHost.isBlank() && !listenHost.equals("0.0.0.0") && !listenHost.equals("::")) {
            (isIpLiteral(listenHost) ? ips : dns).add(listenHost);
        }
        return new Names(List.copyOf(dns), List.copyOf(ips));
    }

    record Names(List<String> dns, List<String> ips) {}

    private static boolean isIpLiteral(String host) {
        return host.matches("[0-9.]+") || host.contains(":");
    }

    private static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"));
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("EC P-256 key generation", e);
        }
    }

    /** An X.509 v3 certificate for {@code names}, issued by itself, signed with SHA-256 (ECDSA, or RSA for an RSA key). */
    static X509Certificate selfSign(KeyPair kp, Names names, Instant now) {
        boolean rsa = kp.getPrivate().getAlgorithm().equals("RSA");
        byte[] algorithm = rsa ? Der.sequence(Der.oid(RSA_SIGNED_WITH_SHA256), Der.tagged(0x05, new byte[0]))
                : Der.sequence(Der.oid(EC_PUBLIC_KEY_SIGNED_WITH_SHA256));
        String cn = "merit development certificate (" + names.dns().getLast() + ")";
        byte[] name = Der.sequence(Der.set(Der.sequence(Der.oid(COMMON_NAME), Der.utf8(cn))));
        byte[] serial = new byte[16];
        new SecureRandom().nextBytes(serial);
        serial[0] &= 0x7f;
        List<byte[]> alt = new ArrayList<>();
        for (String d : names.dns()) {
            alt.add(Der.context(2, false, d.getBytes(StandardCharsets.US_ASCII)));
        }
        for (String ip : names.ips()) {
            try {
                alt.add(Der.context(7, false, InetAddress.getByName(ip).getAddress()));
            } catch (IOException e) {
                throw new IllegalArgumentException("not an IP address: " + ip, e);
            }
        }
        byte[] extensions = Der.sequence(
                Der.sequence(Der.oid(SUBJECT_ALT_NAME), Der.octetString(Der.sequence(alt.toArray(byte[][]::new)))),
                Der.sequence(Der.oid(EXTENDED_KEY_USAGE), Der.octetString(Der.sequence(Der.oid(SERVER_AUTH)))));
        Instant from = now.minus(1, ChronoUnit.DAYS).truncatedTo(ChronoUnit.SECONDS);
        byte[] tbs = Der.sequence(
                Der.context(0, true, Der.integer(BigInteger.TWO)),
                Der.integer(new BigInteger(serial)),
                algorithm,
                name,
                Der.sequence(Der.time(from), Der.time(from.plus(LIFETIME))),
                name,
                kp.getPublic().getEncoded(),
                Der.context(3, true, extensions));
        try {
            Signature s = Signature.getInstance(rsa ? "SHA256withRSA" : "SHA256withECDSA");
            s.initSign(kp.getPrivate());
            s.update(tbs);
            byte[] der = Der.sequence(tbs, algorithm, Der.bitString(s.sign()));
            return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new java.io.ByteArrayInputStream(der));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("signing the development certificate", e);
        }
    }

    static String pem(String type, byte[] der) {
        return "-----BEGIN " + type + "-----\n" + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
                + "\n-----END " + type + "-----\n";
    }
}
