package dev.merit.coordinator.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.Coordinator;
import dev.merit.error.InvalidInputException;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The coordinator's certificate: PEM files (RSA, EC), the self-signed development one, and HTTPS with a real JDK client. */
class ServerTlsTest {

    @TempDir
    Path dir;

    @Test
    void theDevelopmentCertificateIsMadeOnceWithAPrivateKeyFileAndReusedAfterwards() throws Exception {
        DevCertificate.Loaded first = DevCertificate.loadOrCreate(dir, "127.0.0.1");
        assertTrue(first.created());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(first.keyFile())));
        X509Certificate cert = first.tls().certificate();
        cert.verify(cert.getPublicKey());
        cert.checkValidity();
        List<String> sans = cert.getSubjectAlternativeNames().stream().map(l -> String.valueOf(l.get(1))).toList();
        assertTrue(sans.containsAll(List.of("localhost", "127.0.0.1")), "SANs " + sans);
        assertTrue(cert.getExtendedKeyUsage().contains("1.3.6.1.5.5.7.3.1"));
        String expected = "sha256:" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(cert.getEncoded()));
        assertEquals(expected, first.tls().fingerprint());

        DevCertificate.Loaded again = DevCertificate.loadOrCreate(dir, "127.0.0.1");
        assertFalse(again.created());
        assertEquals(first.tls().fingerprint(), again.tls().fingerprint());
        assertNotEquals(first.tls().fingerprint(), DevCertificate.loadOrCreate(dir.resolve("other"), "127.0.0.1").tls().fingerprint());
    }

    @Test
    void theHttpPortServesTheApiAndMetricsOverTlsToAClientThatTrustsTheCertificate() throws Exception {
        DevCertificate.Loaded dev = DevCertificate.loadOrCreate(dir.resolve("tls-data"), "127.0.0.1");
        try (Coordinator c = Coordinator.builder(dir.resolve("server")).listen("127.0.0.1", 0).httpPort(0).tls(dev.tls()).start();
             HttpClient trusting = client(dev.tls().certificate())) {
            String base = "https://127.0.0.1:" + c.httpPort().orElseThrow();
            HttpResponse<String> metrics = trusting.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, metrics.statusCode());
            assertTrue(metrics.body().contains("merit_"), metrics.body());
            HttpResponse<String> session = trusting.send(HttpRequest.newBuilder(URI.create(base + "/api/session"))
                    .header("Authorization", "Bearer " + c.initialAdminToken().orElseThrow()).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, session.statusCode(), session.body());
            assertTrue(session.body().contains("admin"), session.body());

            // A client that trusts another certificate refuses the handshake; plain HTTP gets no page.
            X509Certificate other = DevCertificate.loadOrCreate(dir.resolve("other"), "127.0.0.1").tls().certificate();
            try (HttpClient wrong = client(other)) {
                IOException e = assertThrows(IOException.class, () -> wrong.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString()));
                assertTrue(e instanceof javax.net.ssl.SSLHandshakeException, e.toString());
            }
            try (HttpClient plain = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
                assertThrows(IOException.class, () -> plain.send(HttpRequest.newBuilder(URI.create(base.replace("https", "http") + "/metrics"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString()));
            }
        }
    }

    @Test
    void pemFilesWithAnRsaKeyServeHttps() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair kp = g.generateKeyPair();
        X509Certificate cert = DevCertificate.selfSign(kp, DevCertificate.names("127.0.0.1"), Instant.now());
        Path certFile = write("rsa.crt", DevCertificate.pem("CERTIFICATE", cert.getEncoded()));
        Path keyFile = write("rsa.key", DevCertificate.pem("PRIVATE KEY", kp.getPrivate().getEncoded()));
        ServerTls tls = ServerTls.fromPem(certFile, keyFile);
        assertEquals("RSA", tls.certificate().getPublicKey().getAlgorithm());
        try (Coordinator c = Coordinator.builder(dir.resolve("server")).listen("127.0.0.1", 0).httpPort(0).tls(tls).start();
             HttpClient trusting = client(cert)) {
            HttpResponse<String> r = trusting.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + c.httpPort().orElseThrow() + "/metrics"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
        }
    }

    @Test
    void badFilesAreRefusedNamingTheFile() throws Exception {
        DevCertificate.Loaded a = DevCertificate.loadOrCreate(dir.resolve("a"), "127.0.0.1");
        DevCertificate.Loaded b = DevCertificate.loadOrCreate(dir.resolve("b"), "127.0.0.1");

        InvalidInputException mismatch = assertThrows(InvalidInputException.class, () -> ServerTls.fromPem(a.certFile(), b.keyFile()));
        assertTrue(mismatch.getMessage().contains("do not match") && mismatch.getMessage().contains(b.keyFile().toString()), mismatch.getMessage());

        Path missing = dir.resolve("missing.key");
        InvalidInputException unreadable = assertThrows(InvalidInputException.class, () -> ServerTls.fromPem(a.certFile(), missing));
        assertTrue(unreadable.getMessage().contains("cannot read TLS key " + missing), unreadable.getMessage());

        Path notPem = write("garbage.crt", "hello\n");
        InvalidInputException garbage = assertThrows(InvalidInputException.class, () -> ServerTls.fromPem(notPem, a.keyFile()));
        assertTrue(garbage.getMessage().contains(notPem.toString()), garbage.getMessage());

        Path pkcs1 = write("old.key", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        InvalidInputException traditional = assertThrows(InvalidInputException.class, () -> ServerTls.fromPem(a.certFile(), pkcs1));
        assertTrue(traditional.getMessage().contains("PKCS#8") && traditional.getMessage().contains(pkcs1.toString()), traditional.getMessage());
    }

    private Path write(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text, StandardCharsets.US_ASCII);
    }

    /** A JDK HTTP client whose only trust anchor is {@code anchor} (chain and host name verified as usual). */
    static HttpClient client(X509Certificate anchor) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setCertificateEntry("ca", anchor);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ctx).connectTimeout(Duration.ofSeconds(5)).build();
    }
}
