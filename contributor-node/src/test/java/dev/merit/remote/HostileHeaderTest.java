package dev.merit.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.wire.Ed25519;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.wire.ProposalDigest;
import dev.merit.wire.ProposalSpec;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import io.grpc.Status;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile push headers get a typed answer, never INTERNAL: size fields that sum past 2^63 or
 * that no Fisher can have are rejected by checked arithmetic, and an error that would echo a
 * huge field is cut short so it fits a gRPC status (HTTP/2 headers are limited to a few KiB).
 */
class HostileHeaderTest {

    @TempDir
    Path dir;

    CoordinatorFixture fx;
    ObjectId head;

    @BeforeEach
    void start() {
        fx = new CoordinatorFixture(dir, PolicyConfig.defaults(), ValidationConfig.defaults(), null);
        head = fx.head();
    }

    @AfterEach
    void stop() {
        fx.close();
    }

    /** A signed header declaring these parts, followed by {@code payload} bytes. */
    private ProposalUpload crafted(String contributor, List<ProposalSpec.Part> parts, byte[] payload) {
        ProposalSpec unsigned = new ProposalSpec("main", fx.v0.name(), contributor, 0, "sizes", parts, new byte[32], new byte[0]);
        ProposalDigest d = ProposalDigest.start(unsigned);
        d.update(payload, 0, payload.length);
        byte[] digest = d.finish();
        ProposalSpec spec = new ProposalSpec("main", fx.v0.name(), contributor, 0, "sizes", parts, digest,
                Ed25519.sign(fx.aliceKey.getPrivate(), digest));
        return new ProposalUpload(spec, List.of(payload));
    }

    private RemoteProposal pushRejected(ProposalUpload u, String expected) {
        try (RemoteClient c = fx.client(fx.alice)) {
            RemoteProposal p = c.push(u, ProgressListener.NONE, 1).proposal();
            assertEquals(RemoteProposal.Status.REJECTED, p.status(), p.toString());
            assertTrue(p.reasons().get(0).contains(expected), p.reasons().get(0));
            assertEquals(head, fx.head());
            return p;
        }
    }

    @Test
    void sizesThatSumPastTwoToTheSixtyThreeAreRejected() {
        TensorInfo a = TensorInfo.of("a", DType.F32, 200, 100);
        TensorInfo big = TensorInfo.of("big", DType.F32, 1000, 1000);
        pushRejected(crafted("alice", List.of(new ProposalSpec.Part(a, Long.MAX_VALUE - 5, 0), new ProposalSpec.Part(big, 100, 0)),
                new byte[16]), "payload sizes add up past");
        pushRejected(crafted("alice", List.of(new ProposalSpec.Part(a, 40, Long.MAX_VALUE - 3)), new byte[16]),
                "Fisher of " + (Long.MAX_VALUE - 3) + " bytes");
        pushRejected(crafted("alice", List.of(new ProposalSpec.Part(a, 40, 3L << 31)), new byte[16]),
                "more than 4 bytes for each of the tensor's 20000 entries");
    }

    @Test
    void errorsEchoingHugeFieldsAreCutShort() {
        String huge = "x".repeat(200_000);
        TensorInfo a = TensorInfo.of("a", DType.F32, 200, 100);
        ProposalUpload u = crafted(huge, List.of(new ProposalSpec.Part(a, 16, 0)), new byte[16]);
        try (RemoteClient c = fx.client(fx.alice)) {
            RemoteException e = assertThrows(RemoteException.class, () -> c.push(u, ProgressListener.NONE, 1));
            assertEquals(Status.Code.PERMISSION_DENIED, e.code(), e.toString());
            assertTrue(e.getMessage().contains("cannot push as contributor 'xxxx") && e.getMessage().contains("more characters"),
                    e.getMessage().substring(0, Math.min(300, e.getMessage().length())));
            assertTrue(e.getMessage().length() < 4096, "description of " + e.getMessage().length() + " characters");
        }
    }
}
