package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.CreateTokenRequest;
import dev.merit.proto.v1.GetProposalRequest;
import dev.merit.proto.v1.KeyStatus;
import dev.merit.proto.v1.ListKeysRequest;
import dev.merit.proto.v1.ListProposalsRequest;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalServiceGrpc;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.PushRequest;
import dev.merit.proto.v1.PushResponse;
import dev.merit.proto.v1.RegisterKeyRequest;
import dev.merit.proto.v1.RevokeKeyRequest;
import dev.merit.proto.v1.Role;
import dev.merit.proto.v1.RotateKeyRequest;
import dev.merit.proto.v1.SigningKey;
import dev.merit.store.ObjectId;
import dev.merit.wire.Ed25519;
import dev.merit.wire.KeyProofs;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Signing-key rotation and revocation on a real coordinator (loopback gRPC, RocksDB): a rotation
 * needs the old key's signature, proposals signed before it stay verifiable with the key that
 * signed them, proposals signed with a superseded or revoked key are refused naming it, and all
 * of it survives a restart.
 */
class KeyRotationTest {

    private static final UnaryOperator<dev.merit.coordinator.Coordinator.Builder> MANUAL =
            b -> b.policy(PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL));

    @TempDir
    Path dir;

    private static AdminServiceGrpc.AdminServiceBlockingStub admin(LoopbackCoordinator c, String token) {
        return LoopbackCoordinator.with(AdminServiceGrpc.newBlockingStub(c.channel()), token);
    }

    private static String fp(KeyPair k) {
        return Ed25519.fingerprint(k.getPublic().getEncoded());
    }

    /** Pushes {@code s} under {@code token}; the coordinator's answer, or the call's failure. */
    private static Proposal push(LoopbackCoordinator c, String token, LoopbackCoordinator.Signed s) throws Exception {
        CompletableFuture<PushResponse> done = new CompletableFuture<>();
        StreamObserver<PushRequest> in = LoopbackCoordinator.with(ProposalServiceGrpc.newStub(c.channel()), token)
                .push(LoopbackCoordinator.observer(done));
        in.onNext(s.header(0));
        in.onNext(PushRequest.newBuilder().setData(ByteString.copyFrom(s.payload())).build());
        in.onCompleted();
        return done.get(60, TimeUnit.SECONDS).getProposal();
    }

    private static StatusRuntimeException refusedPush(LoopbackCoordinator c, String token, LoopbackCoordinator.Signed s) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> push(c, token, s));
        return assertInstanceOf(StatusRuntimeException.class, e.getCause());
    }

    private static LoopbackCoordinator.Signed signed(KeyPair k, ObjectId base, int n) {
        return LoopbackCoordinator.sign(k, "alice", base, new long[] {n, n + 100}, new float[] {0.01f * n, -0.02f}, "change " + n);
    }

    private static List<SigningKey> keys(LoopbackCoordinator c, String token) {
        return admin(c, token).listKeys(ListKeysRequest.newBuilder().setContributor("alice").build()).getKeysList();
    }

    private static int stored(LoopbackCoordinator c) {
        return LoopbackCoordinator.with(ProposalServiceGrpc.newBlockingStub(c.channel()), c.adminToken)
                .listProposals(ListProposalsRequest.getDefaultInstance()).getProposalsCount();
    }

    /** True if the proposal's recorded signature verifies with the recorded key, looked up among alice's keys under {@code token}. */
    private static boolean verifiable(LoopbackCoordinator c, String token, String id) {
        Proposal p = LoopbackCoordinator.with(ProposalServiceGrpc.newBlockingStub(c.channel()), c.adminToken)
                .getProposal(GetProposalRequest.newBuilder().setId(id).build());
        SigningKey k = keys(c, token).stream().filter(x -> x.getFingerprint().equals(p.getSigningKey())).findFirst().orElseThrow();
        return Ed25519.verify(k.getPublicKey().toByteArray(), HexFormat.of().parseHex(p.getDigest()), p.getSignature().toByteArray());
    }

    @Test
    void rotationKeepsOldProposalsVerifiableAndRefusesTheOldAndRevokedKeys() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, MANUAL)) {
            String alice = admin(c, c.adminToken).createToken(CreateTokenRequest.newBuilder().setName("alice").setRole(Role.CONTRIBUTOR).build()).getToken();
            String bob = admin(c, c.adminToken).createToken(CreateTokenRequest.newBuilder().setName("bob").setRole(Role.CONTRIBUTOR).build()).getToken();
            KeyPair a = Ed25519.generate();
            KeyPair b = Ed25519.generate();
            KeyPair d = Ed25519.generate();
            admin(c, alice).registerKey(RegisterKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(a.getPublic().getEncoded())).build());

            Proposal p1 = push(c, alice, signed(a, c.v0, 1));
            assertEquals(ProposalStatus.ACCEPTED, p1.getStatus(), p1.toString());
            assertEquals(fp(a), p1.getSigningKey());

            // The token alone cannot rotate: the request must be signed by the current key.
            RotateKeyRequest.Builder rot = RotateKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(b.getPublic().getEncoded()));
            StatusRuntimeException unsigned = assertThrows(StatusRuntimeException.class, () -> admin(c, alice).rotateKey(rot
                    .setProof(ByteString.copyFrom(Ed25519.sign(b.getPrivate(), KeyProofs.rotation("alice", fp(a), b.getPublic().getEncoded()))))
                    .build()));
            assertEquals(Status.Code.PERMISSION_DENIED, unsigned.getStatus().getCode());
            assertTrue(unsigned.getStatus().getDescription().contains("not signed by the current key " + fp(a)), unsigned.getStatus().getDescription());
            assertEquals(List.of(KeyStatus.KEY_STATUS_CURRENT), keys(c, alice).stream().map(SigningKey::getStatus).toList());

            var rotated = admin(c, alice).rotateKey(rot.setProof(ByteString.copyFrom(
                    Ed25519.sign(a.getPrivate(), KeyProofs.rotation("alice", fp(a), b.getPublic().getEncoded())))).build());
            assertEquals(fp(b), rotated.getFingerprint());
            assertEquals(fp(a), rotated.getPreviousFingerprint());
            List<SigningKey> ks = keys(c, bob);
            assertEquals(List.of(fp(a), fp(b)), ks.stream().map(SigningKey::getFingerprint).toList());
            assertEquals(List.of(KeyStatus.KEY_STATUS_SUPERSEDED, KeyStatus.KEY_STATUS_CURRENT), ks.stream().map(SigningKey::getStatus).toList());
            assertEquals(fp(b), ks.get(0).getSupersededBy());
            assertTrue(ks.get(0).getSupersededUnixMs() > 0);

            // New proposals signed with the old key are refused, naming it, and nothing is stored.
            int before = stored(c);
            StatusRuntimeException old = refusedPush(c, alice, signed(a, c.v0, 2));
            assertEquals(Status.Code.PERMISSION_DENIED, old.getStatus().getCode());
            assertTrue(old.getStatus().getDescription().contains("signed with key " + fp(a) + " of 'alice', superseded at"),
                    old.getStatus().getDescription());
            assertEquals(before, stored(c));

            Proposal p2 = push(c, alice, signed(b, c.v0, 3));
            assertEquals(ProposalStatus.ACCEPTED, p2.getStatus(), p2.toString());
            assertEquals(fp(b), p2.getSigningKey());
            assertTrue(verifiable(c, bob, p1.getId()), "p1 verifies with the superseded key that signed it");
            assertTrue(verifiable(c, bob, p2.getId()));

            // Someone else's key: only a maintainer may revoke it. Her own current key: only with its signature.
            StatusRuntimeException notYours = assertThrows(StatusRuntimeException.class, () -> admin(c, bob)
                    .revokeKey(RevokeKeyRequest.newBuilder().setFingerprint(fp(b)).build()));
            assertEquals(Status.Code.PERMISSION_DENIED, notYours.getStatus().getCode());
            StatusRuntimeException noProof = assertThrows(StatusRuntimeException.class, () -> admin(c, alice)
                    .revokeKey(RevokeKeyRequest.newBuilder().setFingerprint(fp(b)).build()));
            assertEquals(Status.Code.PERMISSION_DENIED, noProof.getStatus().getCode());
            StatusRuntimeException unknown = assertThrows(StatusRuntimeException.class, () -> admin(c, alice)
                    .revokeKey(RevokeKeyRequest.newBuilder().setFingerprint("0000000000000000").build()));
            assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());

            SigningKey revoked = admin(c, alice).revokeKey(RevokeKeyRequest.newBuilder().setFingerprint(fp(b))
                    .setProof(ByteString.copyFrom(Ed25519.sign(b.getPrivate(), KeyProofs.revocation("alice", fp(b))))).build());
            assertEquals(KeyStatus.KEY_STATUS_REVOKED, revoked.getStatus());
            assertEquals("alice", revoked.getRevokedBy());
            StatusRuntimeException afterRevoke = refusedPush(c, alice, signed(b, c.v0, 4));
            assertEquals(Status.Code.PERMISSION_DENIED, afterRevoke.getStatus().getCode());
            assertTrue(afterRevoke.getStatus().getDescription().contains("key " + fp(b) + " of 'alice', revoked at"),
                    afterRevoke.getStatus().getDescription());
            assertTrue(verifiable(c, bob, p2.getId()), "p2 was stored before its key was revoked");

            // A former key cannot come back; a fresh one registers with the token once no key is current.
            StatusRuntimeException reuse = assertThrows(StatusRuntimeException.class, () -> admin(c, alice)
                    .registerKey(RegisterKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(a.getPublic().getEncoded())).build()));
            assertEquals(Status.Code.ALREADY_EXISTS, reuse.getStatus().getCode());
            admin(c, alice).registerKey(RegisterKeyRequest.newBuilder().setPublicKey(ByteString.copyFrom(d.getPublic().getEncoded())).build());

            c.stop();
            c.start(MANUAL);
            List<SigningKey> after = keys(c, alice);
            assertEquals(List.of(KeyStatus.KEY_STATUS_SUPERSEDED, KeyStatus.KEY_STATUS_REVOKED, KeyStatus.KEY_STATUS_CURRENT),
                    after.stream().map(SigningKey::getStatus).toList());
            assertArrayEquals(a.getPublic().getEncoded(), after.get(0).getPublicKey().toByteArray());
            assertEquals(Status.Code.PERMISSION_DENIED, refusedPush(c, alice, signed(a, c.v0, 5)).getStatus().getCode());
            assertEquals(Status.Code.PERMISSION_DENIED, refusedPush(c, alice, signed(b, c.v0, 6)).getStatus().getCode());
            assertTrue(verifiable(c, bob, p1.getId()) && verifiable(c, bob, p2.getId()));
            Proposal p3 = push(c, alice, signed(d, c.v0, 7));
            assertEquals(ProposalStatus.ACCEPTED, p3.getStatus(), p3.toString());
            assertEquals(fp(d), p3.getSigningKey());

            // A maintainer revokes a key whose owner lost it; no proof needed.
            SigningKey byMaintainer = admin(c, c.adminToken).revokeKey(RevokeKeyRequest.newBuilder().setFingerprint(fp(d)).build());
            assertEquals("admin", byMaintainer.getRevokedBy());
            assertEquals(Status.Code.PERMISSION_DENIED, refusedPush(c, alice, signed(d, c.v0, 8)).getStatus().getCode());
        }
    }
}
