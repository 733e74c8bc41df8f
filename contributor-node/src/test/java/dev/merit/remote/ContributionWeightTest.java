package dev.merit.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.wire.Ed25519;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.remote.RemoteIdentity.Role;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Contributions are counted by what they change, not by who signs them or what they claim:
 * a claimed example count of Long.MAX_VALUE cannot outweigh another contributor in a batch
 * (shares are capped), and the same change re-signed with a new message, or re-sent by another
 * contributor as its own, is refused as a duplicate naming the original.
 */
class ContributionWeightTest {

    @TempDir
    Path dir;

    private static final TensorInfo A = TensorInfo.of("a", DType.F32, 200, 100);

    private static ProposalBuilder.Part part(long position, float value) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pos = arena.allocate(8, 8);
            MemorySegment val = arena.allocate(4, 8);
            pos.setAtIndex(SparseTensorDelta.POSITION, 0, position);
            val.setAtIndex(SparseTensorDelta.ADD_VALUE, 0, value);
            SparseTensorDelta d = new SparseTensorDelta(A, SparseTensorDelta.Semantics.ADD, 1, pos, val);
            byte[] enc = DeltaCodec.encode(d, EncodeOptions.defaults().withZstd(false), arena).encoded().toArray(ValueLayout.JAVA_BYTE);
            return new ProposalBuilder.Part(A, enc, new byte[0], 1);
        }
    }

    private static RemoteProposal push(CoordinatorFixture fx, String token, String who, KeyPair key, long examples, float value,
                                 String message) {
        ProposalUpload u = ProposalBuilder.sign(List.of(part(7, value)), "main", fx.v0.name(), who, examples, message, key.getPrivate());
        try (RemoteClient c = fx.client(token)) {
            return c.push(u, ProgressListener.NONE).proposal();
        }
    }

    private static float value(CoordinatorFixture fx, ObjectId version, Path dir) {
        Path out = dir.resolve("v-" + System.nanoTime() + ".safetensors");
        fx.coord.repository().checkout(version, out, ProgressListener.NONE);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            return DType.F32.getFloat(f.data("a"), 7);
        }
    }

    @Test
    void aHugeExampleCountCannotOutweighTheRestOfTheBatch() throws Exception {
        PolicyConfig batch = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withBatch(2, Duration.ofMinutes(10));
        try (CoordinatorFixture fx = new CoordinatorFixture(dir, batch, ValidationConfig.defaults(), null)) {
            String bob;
            try (RemoteClient c = fx.client(fx.admin)) {
                bob = c.createToken("bob", Role.CONTRIBUTOR);
            }
            KeyPair bobKey = Ed25519.generate();
            try (RemoteClient c = fx.client(bob)) {
                c.registerKey(bobKey.getPublic().getEncoded());
            }
            float before = value(fx, fx.v0, dir);
            RemoteProposal big = push(fx, fx.alice, "alice", fx.aliceKey, Long.MAX_VALUE, 1.0f, "trust me");
            RemoteProposal small = push(fx, bob, "bob", bobKey, 100, -1.0f, "honest");
            assertEquals(RemoteProposal.Status.ACCEPTED, big.status(), big.toString());
            assertEquals(RemoteProposal.Status.ACCEPTED, small.status(), small.toString());
            for (int i = 0; i < 200 && fx.head().equals(fx.v0); i++) {
                Thread.sleep(50);
            }
            assertEquals(ProposalRecord.Status.MERGED, fx.coord.proposals().store().get(big.id()).status());
            // Capped at half the batch each: +1 and -1 cancel. Uncapped, alice's claim would move the entry by ~+1.
            assertEquals(before, value(fx, fx.head(), dir), 1e-6f);

            // The same change again: re-signed with a new message, and re-sent by bob as his own.
            RemoteProposal resigned = push(fx, fx.alice, "alice", fx.aliceKey, 10, 1.0f, "same change, new words");
            assertEquals(RemoteProposal.Status.REJECTED, resigned.status(), resigned.toString());
            assertTrue(resigned.reasons().get(0).contains("the same change as proposal " + big.id() + " by 'alice'"),
                    resigned.reasons().get(0));
            RemoteProposal stolen = push(fx, bob, "bob", bobKey, 10, 1.0f, "my own work");
            assertEquals(RemoteProposal.Status.REJECTED, stolen.status(), stolen.toString());
            assertTrue(stolen.reasons().get(0).contains("the same change as proposal " + big.id() + " by 'alice'"),
                    stolen.reasons().get(0));
        }
    }

}
