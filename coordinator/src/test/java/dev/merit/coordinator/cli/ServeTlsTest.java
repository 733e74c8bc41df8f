package dev.merit.coordinator.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code merit serve}'s TLS options: the self-signed certificate kept across restarts, and half or clashing options refused. */
class ServeTlsTest {

    private static final Pattern FINGERPRINT = Pattern.compile("TLS certificate fingerprint: (sha256:[0-9a-f]{64})");

    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {}

    private Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = CoordinatorMain.run(dir, new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    /** Starts {@code merit serve} on a thread, waits for its fingerprint line, and stops it (as Ctrl-C would, by interrupting). */
    private String serveOnceAndStop(String... args) throws Exception {
        StringWriter out = new StringWriter();
        Thread t = Thread.ofPlatform().start(() -> CoordinatorMain.run(dir, new PrintWriter(out, true), new PrintWriter(new StringWriter(), true), args));
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (!FINGERPRINT.matcher(out.toString()).find() && t.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        t.interrupt();
        t.join(30_000);
        return out.toString();
    }

    @Test
    void aSelfSignedCertificateIsMadeOnFirstStartAndReusedAfterARestart() throws Exception {
        String[] args = {"serve", "--data", "coord", "--port", "0", "--http-port", "-1", "--kafka", "none", "--tls", "self-signed"};
        String first = serveOnceAndStop(args);
        Matcher m1 = FINGERPRINT.matcher(first);
        assertTrue(m1.find(), first);
        assertTrue(first.contains("over TLS") && first.contains("(made now)") && first.contains("--pin " + m1.group(1)), first);
        assertTrue(Files.isRegularFile(dir.resolve("coord/tls/server.key")));

        String second = serveOnceAndStop(args);
        Matcher m2 = FINGERPRINT.matcher(second);
        assertTrue(m2.find(), second);
        assertTrue(second.contains("(reused)"), second);
        assertEquals(m1.group(1), m2.group(1));
    }

    @Test
    void halfOrClashingTlsOptionsAreRefusedBeforeAnythingStarts() throws Exception {
        Run certOnly = run("serve", "--data", "c1", "--kafka", "none", "--tls-cert", "server.crt");
        assertEquals(4, certOnly.code(), certOnly.err());
        assertTrue(certOnly.err().contains("--tls-cert needs --tls-key"), certOnly.err());
        Run keyOnly = run("serve", "--data", "c1", "--kafka", "none", "--tls-key", "server.key");
        assertTrue(keyOnly.code() == 4 && keyOnly.err().contains("--tls-key needs --tls-cert"), keyOnly.err());
        Run both = run("serve", "--data", "c1", "--kafka", "none", "--tls", "self-signed", "--tls-cert", "a", "--tls-key", "b");
        assertTrue(both.code() == 4 && both.err().contains("exclude each other"), both.err());
        Run unknown = run("serve", "--data", "c1", "--kafka", "none", "--tls", "on");
        assertTrue(unknown.code() == 4 && unknown.err().contains("self-signed"), unknown.err());
        Run missing = run("serve", "--data", "c1", "--kafka", "none", "--tls-cert", "nope.crt", "--tls-key", "nope.key");
        assertTrue(missing.code() == 4 && missing.err().contains(dir.resolve("nope.crt").toString()), missing.err());
        assertTrue(!Files.exists(dir.resolve("c1")), "nothing was created");
    }
}
