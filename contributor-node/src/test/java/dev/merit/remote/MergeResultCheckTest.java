package dev.merit.remote;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Merge results are checked before they are committed: two accepted proposals that each add
 * +3e38 at one entry would make the head infinite; the coordinator refuses that merge, names the
 * proposals, rejects them and leaves the head as it was (auto and batch policies, over gRPC).
 */
class MergeResultCheckTest {

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

    private static RemoteProposal push(CoordinatorFixture fx, ObjectId base, float value, String message) {
        ProposalUpload u = ProposalBuilder.sign(List.of(part(7, value)), "main", base.name(), "alice", 0, message,
                fx.aliceKey.getPrivate());
        try (RemoteClient c = fx.client(fx.alice)) {
            return c.push(u, ProgressListener.NONE).proposal();
        }
    }

    private static float headValue(CoordinatorFixture fx, Path dir) {
        Path out = dir.resolve("head-" + System.nanoTime() + ".safetensors");
        fx.coord.repository().checkout(fx.head(), out, ProgressListener.NONE);
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            return DType.F32.getFloat(f.data("a"), 7);
        }
    }

    @Test
    void autoPolicyRefusesAMergeThatWouldMakeTheHeadInfinite() {
        try (CoordinatorFixture fx = new CoordinatorFixture(dir, PolicyConfig.defaults(), ValidationConfig.defaults(), null)) {
            RemoteProposal first = push(fx, fx.v0, 3e38f, "big");
            assertEquals(RemoteProposal.Status.MERGED, first.status(), first.toString());
            ObjectId head = fx.head();
            assertTrue(Float.isFinite(headValue(fx, dir)));

            RemoteProposal second = push(fx, head, 3.1e38f, "bigger");
            assertEquals(RemoteProposal.Status.REJECTED, second.status(), second.toString());
            String reason = second.reasons().getLast();
            assertTrue(reason.contains("non-finite") && reason.contains("a[7]") && reason.contains(second.id()), reason);
            assertEquals(head, fx.head(), "the head must not move");
            assertTrue(Float.isFinite(headValue(fx, dir)));
            assertEquals(ProposalRecord.Status.REJECTED, fx.coord.proposals().store().get(second.id()).status());
        }
    }

    @Test
    void batchPolicyRejectsTheWholeBatchAndNamesEveryProposal() throws Exception {
        PolicyConfig batch = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withBatch(2, Duration.ofMinutes(10))
                .withStrategy(dev.merit.merge.Strategy.TASK_ARITHMETIC);
        try (CoordinatorFixture fx = new CoordinatorFixture(dir, batch, ValidationConfig.defaults(), null)) {
            ObjectId head = fx.head();
            RemoteProposal p1 = push(fx, fx.v0, 3e38f, "one");
            RemoteProposal p2 = push(fx, fx.v0, 3.05e38f, "two"); // a different change: the same one twice is a duplicate
            ProposalRecord r1 = null;
            ProposalRecord r2 = null;
            for (int i = 0; i < 200; i++) { // the batch is merged (here: refused) on the merge thread
                r1 = fx.coord.proposals().store().get(p1.id());
                r2 = fx.coord.proposals().store().get(p2.id());
                if (r1.status() != ProposalRecord.Status.ACCEPTED && r2.status() != ProposalRecord.Status.ACCEPTED) {
                    break;
                }
                Thread.sleep(50);
            }
            assertEquals(ProposalRecord.Status.REJECTED, r1.status(), r1.toString());
            assertEquals(ProposalRecord.Status.REJECTED, r2.status(), r2.toString());
            String reason = r1.reasons().getLast();
            assertTrue(reason.contains(p1.id()) && reason.contains(p2.id()) && reason.contains("non-finite"), reason);
            assertEquals(head, fx.head(), "the head must not move");
            assertTrue(fx.coord.proposals().store().queued("main").isEmpty(), "refused proposals leave the queue");
        }
    }

    @Test
    void mergesBeyondTheNormBoundsAreRefused() {
        // Each proposal is within the per-proposal norm (40, 39.5 < 50), their sum under task arithmetic is not (79.5).
        PolicyConfig batch = PolicyConfig.defaults().withPolicy(MergePolicy.BATCH).withBatch(3, Duration.ofMinutes(10))
                .withStrategy(dev.merit.merge.Strategy.TASK_ARITHMETIC);
        try (CoordinatorFixture fx = new CoordinatorFixture(dir, batch, ValidationConfig.defaults().withNorms(50, 50), null)) {
            ObjectId head = fx.head();
            RemoteProposal p1 = push(fx, fx.v0, 40f, "one");
            RemoteProposal p2 = push(fx, fx.v0, 39.5f, "two");
            assertEquals(RemoteProposal.Status.ACCEPTED, p1.status());
            assertEquals(RemoteProposal.Status.ACCEPTED, p2.status());
            assertEquals(2, fx.coord.policy().flush("main"));
            ProposalRecord r1 = fx.coord.proposals().store().get(p1.id());
            assertEquals(ProposalRecord.Status.REJECTED, r1.status());
            assertTrue(r1.reasons().getLast().contains("would change tensor 'a' by L2 norm 79.4")
                    && r1.reasons().getLast().contains("above the limit 50.0"),
                    r1.reasons().getLast());
            assertEquals(head, fx.head());
        }
    }
}
