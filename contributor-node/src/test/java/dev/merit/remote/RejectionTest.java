package dev.merit.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.wire.Ed25519;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ForwardingClientCall;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every way a push is refused, each with its own message, and each leaving the branch head as it
 * was (rejected proposals are kept with their reasons; refused callers leave nothing).
 */
class RejectionTest {

    @TempDir
    Path dir;

    CoordinatorFixture fx;
    ObjectId head;

    @BeforeEach
    void start() {
        fx = new CoordinatorFixture(dir, PolicyConfig.defaults(), ValidationConfig.defaults().withNorms(50, 80).withStaleness(1, 0.5), null);
        head = fx.head();
    }

    @AfterEach
    void stop() {
        fx.close();
    }

    private Path tuned(String name, long seed) {
        return Models.sparseTune(fx.base, dir.resolve(name + ".safetensors"), 0.01, seed);
    }

    private RemoteProposal pushRejected(ProposalUpload u, String expected) {
        try (RemoteClient c = fx.client(fx.alice)) {
            RemoteProposal p = c.push(u, ProgressListener.NONE).proposal();
            assertEquals(RemoteProposal.Status.REJECTED, p.status(), p.toString());
            assertTrue(p.reasons().get(0).contains(expected), p.reasons().get(0));
            assertEquals(head, fx.head(), "head must not move");
            return p;
        }
    }

    private static ProposalBuilder.Part part(TensorInfo t, long[] positions, float[] values) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pos = arena.allocate(positions.length * 8L, 8);
            MemorySegment val = arena.allocate(values.length * 4L, 8);
            for (int i = 0; i < positions.length; i++) {
                pos.setAtIndex(SparseTensorDelta.POSITION, i, positions[i]);
                val.setAtIndex(SparseTensorDelta.ADD_VALUE, i, values[i]);
            }
            SparseTensorDelta d = new SparseTensorDelta(t, SparseTensorDelta.Semantics.ADD, positions.length, pos, val);
            byte[] enc = DeltaCodec.encode(d, EncodeOptions.defaults().withZstd(false), arena).encoded().toArray(ValueLayout.JAVA_BYTE);
            return new ProposalBuilder.Part(t, enc, new byte[0], positions.length);
        }
    }

    private ProposalUpload signed(List<ProposalBuilder.Part> parts) {
        return ProposalBuilder.sign(parts, "main", fx.v0.name(), "alice", 0, "crafted", fx.aliceKey.getPrivate());
    }

    private static final TensorInfo A = TensorInfo.of("a", DType.F32, 200, 100);

    @Test
    void unauthenticatedCallersAreRefusedAndNothingIsStored() {
        ProposalUpload u = fx.proposal(fx.base, tuned("t", 1), fx.v0);
        try (RemoteClient c = fx.client(null)) {
            RemoteException e = assertThrows(RemoteException.class, () -> c.push(u, ProgressListener.NONE, 1));
            assertEquals(Status.Code.UNAUTHENTICATED, e.code());
            assertTrue(e.getMessage().contains("no token"), e.getMessage());
        }
        try (RemoteClient c = fx.client("mrt_not-a-token")) {
            RemoteException e = assertThrows(RemoteException.class, () -> c.push(u, ProgressListener.NONE, 1));
            assertTrue(e.getMessage().contains("unknown token 'mrt_not-"), e.getMessage());
        }
        assertEquals(head, fx.head());
        assertTrue(fx.coord.proposals().store().list(r -> true, 10).isEmpty());
    }

    @Test
    void readersCannotPush() {
        String reader;
        try (RemoteClient c = fx.client(fx.admin)) {
            reader = c.createToken("rita", RemoteIdentity.Role.READER);
        }
        ProposalUpload u = ProposalBuilder.sign(List.of(part(A, new long[] {4}, new float[] {0.25f})),
                "main", fx.v0.name(), "rita", 0, "m", Ed25519.generate().getPrivate());
        try (RemoteClient c = fx.client(reader)) {
            RemoteException e = assertThrows(RemoteException.class, () -> c.push(u, ProgressListener.NONE, 1));
            assertEquals(Status.Code.PERMISSION_DENIED, e.code());
            assertTrue(e.getMessage().contains("'rita' has role reader; pushing a proposal needs contributor"), e.getMessage());
        }
        assertEquals(head, fx.head());
        assertTrue(fx.coord.proposals().store().list(r -> true, 10).isEmpty());
    }

    @Test
    void aSignatureByAnotherKeyIsRejected() {
        ProposalUpload forged = ProposalBuilder.sign(List.of(part(A, new long[] {1, 5}, new float[] {0.1f, 0.2f})),
                "main", fx.v0.name(), "alice", 0, "m", Ed25519.generate().getPrivate());
        pushRejected(forged, "signature does not verify against the registered key");
    }

    @Test
    void aShapeMismatchIsRejectedBeforeThePayload() {
        TensorInfo wrong = TensorInfo.of("a", DType.F32, 100, 200);
        pushRejected(signed(List.of(part(wrong, new long[] {3}, new float[] {0.5f}))), "tensor 'a': F32 [100, 200] != base F32 [200, 100]");
    }

    @Test
    void nanValuesAreRejected() {
        pushRejected(signed(List.of(part(A, new long[] {2, 9}, new float[] {0.5f, Float.NaN}))), "change NaN at position 9 is not finite");
    }

    @Test
    void outOfRangePositionsAreRejected() {
        // Encode a change at position 30000 of a [300, 100] tensor, then relabel the header as the
        // base's [200, 100] (fixing the chunk checksum): the positions now run past the tensor.
        ProposalBuilder.Part p = part(TensorInfo.of("a", DType.F32, 300, 100), new long[] {30_000 - 7}, new float[] {0.5f});
        byte[] enc = p.delta();
        int at = indexOf(enc, new byte[] {1, 'a', 2, (byte) 0xAC, 0x02, 100});
        enc[at + 3] = (byte) 0xC8;
        enc[at + 4] = 0x01;
        ByteBuffer frame = ByteBuffer.wrap(enc).order(ByteOrder.LITTLE_ENDIAN);
        int len = frame.getInt(0);
        CRC32C crc = new CRC32C();
        crc.update(new byte[4]);
        crc.update(enc, 8, len);
        frame.putInt(4, (int) crc.getValue());
        pushRejected(signed(List.of(new ProposalBuilder.Part(A, enc, new byte[0], 1))), "outside [0, 20000)");
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("pattern not found in the encoding");
    }

    @Test
    void changesOverTheNormLimitAreRejected() {
        pushRejected(signed(List.of(part(A, new long[] {1, 2, 3}, new float[] {40f, 40f, 40f}))),
                "tensor 'a': L2 norm of the change 69.2820 exceeds the limit 50.0000");
    }

    @Test
    void proposalsPastTheStalenessLimitAreRejected() {
        try (RemoteClient c = fx.client(fx.alice)) {
            // Two merged proposals move the head two versions past v0 (auto policy).
            for (int i = 0; i < 2; i++) {
                ObjectId h = fx.head();
                Path hf = dir.resolve("head" + i + ".safetensors");
                fx.coord.repository().checkout(h, hf, ProgressListener.NONE);
                RemoteProposal p = c.push(fx.proposal(hf, Models.sparseTune(hf, dir.resolve("s" + i + ".safetensors"), 0.01, 40 + i), h),
                        ProgressListener.NONE).proposal();
                assertEquals(RemoteProposal.Status.MERGED, p.status(), p.toString());
            }
        }
        head = fx.head();
        pushRejected(fx.proposal(fx.base, tuned("old", 3), fx.v0), "is 2 versions behind the head of 'main' (limit 1)");
    }

    @Test
    void aRepeatedPushAnswersWithTheOriginalProposalAndMergesNothingTwice() {
        ProposalUpload u = fx.proposal(fx.base, tuned("t", 1), fx.v0);
        try (RemoteClient c = fx.client(fx.alice)) {
            RemoteProposal first = c.push(u, ProgressListener.NONE).proposal();
            assertEquals(RemoteProposal.Status.MERGED, first.status(), first.toString());
            head = fx.head();
            RemoteProposal again = c.push(u, ProgressListener.NONE).proposal();
            assertEquals(RemoteProposal.Status.MERGED, again.status(), again.toString());
            assertEquals(first.id(), again.id(), "the original proposal, not a new one");
            assertEquals(head, fx.head(), "nothing merged twice");
        }
    }

    @Test
    void aStreamCutInTheMiddleChangesNothingAndResumesFromTheAcknowledgedOffset() throws Exception {
        Path big = Models.sparseTune(fx.base, dir.resolve("big.safetensors"), 0.5, 7);
        ProposalUpload u = fx.proposal(fx.base, big, fx.v0);
        assertTrue(u.payloadBytes() > RemoteClient.PIECE, "payload " + u.payloadBytes());
        Principal alice = new Principal("alice", dev.merit.coordinator.auth.Role.CONTRIBUTOR);
        String id = u.spec().uploadId();
        AtomicBoolean cut = new AtomicBoolean();
        ClientInterceptor cutter = new ClientInterceptor() {
            @Override
            public <Q, R> ClientCall<Q, R> interceptCall(MethodDescriptor<Q, R> m, CallOptions o, Channel next) {
                AtomicInteger sent = new AtomicInteger();
                return new ForwardingClientCall.SimpleForwardingClientCall<>(next.newCall(m, o)) {
                    @Override
                    public void sendMessage(Q message) {
                        super.sendMessage(message);
                        if (m.getBareMethodName().equals("Push") && sent.incrementAndGet() == 2 && cut.compareAndSet(false, true)) {
                            // Wait (bounded) until the coordinator holds some payload, then cut the stream.
                            for (int i = 0; i < 200 && fx.coord.proposals().uploadOffset(alice, id) <= 0; i++) {
                                sleep(10);
                            }
                            cancel("simulated network cut", null);
                        }
                    }
                };
            }
        };
        try (RemoteClient c = RemoteClient.connect(fx.url, fx.alice, cutter)) {
            RemoteException e = assertThrows(RemoteException.class, () -> c.push(u, ProgressListener.NONE, 1));
            assertEquals(Status.Code.CANCELLED, e.code(), e.getMessage());
        }
        assertEquals(head, fx.head());
        assertTrue(fx.coord.proposals().store().list(r -> true, 10).isEmpty(), "no proposal from a cut stream");
        long held;
        try (RemoteClient c = fx.client(fx.alice)) {
            for (int i = 0; i < 200 && fx.coord.proposals().uploadOffset(alice, id) < 0; i++) {
                sleep(10);
            }
            held = c.uploadOffset(id).orElseThrow();
            assertTrue(held > 0 && held < u.payloadBytes(), "held " + held);
            // The same proposal again: the client asks for the offset and sends only the rest.
            RemoteClient.PushResult r = c.push(u, ProgressListener.NONE);
            assertEquals(RemoteProposal.Status.MERGED, r.proposal().status(), r.proposal().toString());
        }
        assertTrue(!fx.head().equals(head), "merged after the resume");
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
