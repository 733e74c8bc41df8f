package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.proto.v1.Proposal;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A review action whose body cannot be read (shorter than its Content-Length, or chunks that are
 * not chunks) is answered 400 with a JSON error saying so, and decides nothing. Before the fix
 * the read's IOException left the handler and the server hung up without an answer.
 */
class UnreadableBodyTest {

    @TempDir
    Path dir;

    /** Sends {@code head} and {@code body} on a raw socket, closes the sending side, returns the answer. */
    private static String exchange(int port, String head, String body) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            s.setSoTimeout(30_000);
            s.getOutputStream().write((head + "\r\n" + body).getBytes(StandardCharsets.UTF_8));
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toString(StandardCharsets.UTF_8);
        }
    }

    @Test
    void aBodyThatCannotBeReadIsABadRequest() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL)).httpPort(0))) {
            Proposal pending = c.push("alice", c.v0, new long[] {3}, new float[] {0.1f}, "pending");
            int port = c.coord.httpPort().orElseThrow();
            String json = "{\"proposals\":[\"" + pending.getId() + "\"],\"branch\":\"main\",\"strategy\":\"average\"}";
            String common = "POST /api/merges HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nConnection: close\r\nAuthorization: Bearer "
                    + c.adminToken + "\r\nContent-Type: application/json\r\n";

            String shortBody = exchange(port, common + "Content-Length: " + (json.length() + 100) + "\r\n", json);
            assertTrue(shortBody.startsWith("HTTP/1.1 400 "), shortBody);
            assertTrue(shortBody.contains("request body could not be read"), shortBody);

            String badChunks = exchange(port, common + "Transfer-Encoding: chunked\r\n", "zz\r\n" + json);
            assertTrue(badChunks.startsWith("HTTP/1.1 400 "), badChunks);
            String shortChunk = exchange(port, common + "Transfer-Encoding: chunked\r\n", "ffff\r\n" + json);
            assertTrue(shortChunk.startsWith("HTTP/1.1 400 "), shortChunk);

            assertEquals(ProposalRecord.Status.ACCEPTED, c.coord.proposals().store().get(pending.getId()).status(), "nothing was merged");
            assertEquals(c.v0, c.head());
        }
    }
}
