package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.tls.DevCertificate;
import dev.merit.coordinator.tls.ServerTls;
import dev.merit.remote.Models;
import dev.merit.remote.Remote;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteTrust;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The merit CLI against a coordinator serving TLS on real loopback gRPC: pushes and pulls over a
 * channel verified with a CA file, a pinned certificate accepted and a wrong pin, a wrong CA and
 * a wrong host name refused, and plain text and TLS mixed up answered with a clear message.
 */
class TlsRemoteTest {

    @TempDir
    Path dir;

    private DevCertificate.Loaded cert;
    private Coordinator coord;
    private String tlsUrl;
    private String admin;
    private Path base;

    @BeforeEach
    void start() throws Exception {
        cert = DevCertificate.loadOrCreate(dir.resolve("server"), "127.0.0.1");
        coord = Coordinator.builder(dir.resolve("server")).listen("127.0.0.1", 0).tls(cert.tls()).start();
        tlsUrl = "merits://127.0.0.1:" + coord.port();
        admin = coord.initialAdminToken().orElseThrow();
        base = TestModels.builder().seed(3).tensor("a", DType.F32, 200, 100).tensor("ids", DType.I32, 16).write(dir.resolve("base.safetensors"));
    }

    @AfterEach
    void stop() {
        coord.close();
    }

    private static CliRunner.Result ok(CliRunner m, String... args) {
        CliRunner.Result r = m.run(args);
        assertEquals(0, r.exitCode(), () -> "merit " + String.join(" ", args) + "\n" + r);
        return r;
    }

    private static CliRunner.Result fails(int code, CliRunner m, String... args) {
        CliRunner.Result r = m.run(args);
        assertEquals(code, r.exitCode(), () -> "merit " + String.join(" ", args) + "\n" + r);
        assertFalse(r.err().contains("\tat "), () -> "a stack trace:\n" + r);
        return r;
    }

    private CliRunner publishBase() throws Exception {
        CliRunner maint = new CliRunner(Files.createDirectories(dir.resolve("maint")));
        ok(maint, "init", "--from", base.toString(), "-m", "base");
        ok(maint, "remote", "add", "origin", tlsUrl, "--token", admin, "--ca", cert.certFile().toString());
        assertTrue(ok(maint, "push", "origin", "main").out().startsWith("Published main"));
        return maint;
    }

    @Test
    void pushAndPullOverTlsVerifiedWithTheCaFile() throws Exception {
        CliRunner maint = publishBase();
        assertTrue(ok(maint, "remote", "list").out().contains("origin\t" + tlsUrl + "\tca"));
        String token = ok(maint, "token", "create", "--name", "alice", "--role", "contributor").out().trim();

        ok(new CliRunner(dir), "clone", tlsUrl, "alice", "--token", token, "--ca", cert.certFile().toString());
        CliRunner alice = new CliRunner(dir.resolve("alice"));
        ok(alice, "key", "register");
        Path tuned = Models.sparseTune(base, dir.resolve("tuned.safetensors"), 0.02, 11);
        ok(alice, "commit", tuned.toString(), "-m", "tune");
        ObjectId v0 = coord.versions().requireHead("main");
        CliRunner.Result push = ok(alice, "push");
        assertTrue(push.out().contains(": accepted") || push.out().contains(": merged"), push.out());
        ObjectId merged = awaitNewHead(v0);

        CliRunner.Result pull = ok(maint, "pull");
        assertTrue(pull.out().contains(merged.abbreviate(12)), pull.out());
        try (Repository r = Repository.open(dir.resolve("maint"))) {
            assertEquals(merged, r.resolve("main"));
        }
    }

    @Test
    void aPinnedCertificateIsAcceptedAndAnyOtherFingerprintRefused() throws Exception {
        publishBase();
        String pin = cert.tls().fingerprint();
        CliRunner here = new CliRunner(dir);
        ok(here, "clone", tlsUrl, "pinned", "--token", admin, "--pin", pin);
        assertTrue(ok(new CliRunner(dir.resolve("pinned")), "remote", "list").out().contains("\tpin " + pin));
        ok(new CliRunner(dir.resolve("pinned")), "pull");

        String other = DevCertificate.loadOrCreate(dir.resolve("other"), "127.0.0.1").tls().fingerprint();
        assertNotEquals(pin, other);
        CliRunner.Result r = fails(1, here, "clone", tlsUrl, "wrong-pin", "--token", admin, "--pin", other);
        assertTrue(r.err().contains("certificate fingerprint " + pin + " does not match the pinned " + other), r.err());
        assertFalse(Files.exists(dir.resolve("wrong-pin")), "a refused clone leaves no directory");

        // The same refusal for a remote kept with the wrong pin.
        CliRunner pinned = new CliRunner(dir.resolve("pinned"));
        ok(pinned, "remote", "add", "origin", tlsUrl, "--pin", other.toUpperCase().replace("SHA256:", "sha256:"));
        assertTrue(fails(1, pinned, "pull").err().contains("does not match the pinned " + other));
    }

    @Test
    void aCaThatDidNotIssueTheCertificateOrAWrongHostNameIsRefused() throws Exception {
        publishBase();
        Path otherCa = DevCertificate.loadOrCreate(dir.resolve("other"), "127.0.0.1").certFile();
        CliRunner here = new CliRunner(dir);
        CliRunner.Result wrongCa = fails(1, here, "clone", tlsUrl, "wrong-ca", "--token", admin, "--ca", otherCa.toString());
        assertTrue(wrongCa.err().contains("TLS certificate is not trusted"), wrongCa.err());
        assertFalse(Files.exists(dir.resolve("wrong-ca")));

        // The right CA, but the coordinator answers on an address its certificate does not name.
        try (Coordinator elsewhere = Coordinator.builder(dir.resolve("elsewhere")).listen("127.0.0.2", 0)
                .tls(ServerTls.fromPem(cert.certFile(), cert.keyFile())).start()) {
            String url = "merits://127.0.0.2:" + elsewhere.port();
            String token = elsewhere.initialAdminToken().orElseThrow();
            CliRunner.Result wrongHost = fails(1, here, "proposals", url, "--token", token);
            assertTrue(wrongHost.err().contains("not trusted") && wrongHost.err().contains("127.0.0.2"), wrongHost.err());
            // A pin names the certificate itself, so the address does not matter.
            try (RemoteClient c = RemoteClient.connect(Remote.of(url, RemoteTrust.pin(cert.tls().fingerprint())), token)) {
                assertTrue(c.branches().isEmpty());
            }
        }
    }

    @Test
    void plainTextAndTlsMixedUpGiveAClearError() throws Exception {
        CliRunner here = new CliRunner(dir);
        CliRunner.Result plainToTls = fails(1, here, "clone", "merit://127.0.0.1:" + coord.port(), "x", "--token", admin);
        assertTrue(plainToTls.err().contains("merits://"), plainToTls.err());

        try (Coordinator plain = Coordinator.builder(dir.resolve("plain")).listen("127.0.0.1", 0).start()) {
            CliRunner.Result tlsToPlain = fails(1, here, "clone", "merits://127.0.0.1:" + plain.port(), "y",
                    "--token", plain.initialAdminToken().orElseThrow(), "--pin", cert.tls().fingerprint());
            assertTrue(tlsToPlain.err().contains("does not speak TLS"), tlsToPlain.err());
        }
        // --ca and --pin only make sense for TLS, and need a readable file.
        Files.createDirectories(dir.resolve("r"));
        CliRunner r = new CliRunner(dir.resolve("r"));
        ok(r, "init");
        assertTrue(fails(4, r, "remote", "add", "o", "merit://127.0.0.1:1", "--ca", cert.certFile().toString()).err().contains("merits://"));
        Path missing = dir.resolve("no-such-ca.pem");
        assertTrue(fails(4, r, "remote", "add", "o", tlsUrl, "--ca", missing.toString()).err().contains(missing.toString()));
        assertTrue(fails(4, r, "remote", "add", "o", tlsUrl, "--pin", "sha256:abc").err().contains("64 hex digits"));
    }

    private ObjectId awaitNewHead(ObjectId old) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            ObjectId h = coord.versions().requireHead("main");
            if (!h.equals(old)) {
                return h;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no merge within 30 s");
    }
}
