package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.proposals.UploadLimits;
import dev.merit.proto.v1.GetUploadRequest;
import dev.merit.proto.v1.GetUploadResponse;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Uploads belong to the contributor who started them, and one contributor cannot hold the
 * coordinator's descriptors or disk: a real coordinator on loopback gRPC, real RocksDB, real
 * upload files.
 */
class UploadOwnershipTest {

    private static final PolicyConfig AUTO = PolicyConfig.defaults().withPolicy(MergePolicy.AUTO);

    @TempDir
    Path dir;

    private static GetUploadResponse upload(LoopbackCoordinator c, String who, String id) {
        return c.proposals(c.contributor(who)).getUpload(GetUploadRequest.newBuilder().setUploadId(id).build());
    }

    private static void awaitOffset(LoopbackCoordinator c, String who, String id, long expected) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (upload(c, who, id).getOffset() != expected) {
            if (System.nanoTime() > deadline) {
                fail("upload " + id.substring(0, 12) + " of " + who + " never held " + expected + " bytes: " + upload(c, who, id));
            }
            Thread.sleep(20);
        }
    }

    private static void awaitUpload(LoopbackCoordinator c, String who, String id) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!upload(c, who, id).getExists()) {
            if (System.nanoTime() > deadline) {
                fail("upload " + id.substring(0, 12) + " of " + who + " never started");
            }
            Thread.sleep(20);
        }
    }

    private static Status.Code code(Throwable t) {
        Throwable cause = t instanceof ExecutionException ? t.getCause() : t;
        return assertInstanceOf(StatusRuntimeException.class, cause, String.valueOf(cause)).getStatus().getCode();
    }

    /** Resumes {@code s} at {@code offset}, retrying while the server still releases the cut stream. */
    private static Proposal resume(LoopbackCoordinator c, String who, LoopbackCoordinator.Signed s, int offset) throws Exception {
        for (int attempt = 0; ; attempt++) {
            try {
                return c.stream(who, s, offset).send(s.payload(), offset, s.payload().length).finish();
            } catch (ExecutionException e) {
                if (code(e) != Status.Code.ABORTED || attempt > 100) {
                    throw e;
                }
                Thread.sleep(50);
            }
        }
    }

    /**
     * Before the fix: bob saw alice's upload exist (GetUpload answered exists=true with her
     * offset), and his header with her upload id truncated it and, once his bytes were rejected,
     * deleted it, so her resume found nothing.
     */
    @Test
    void anotherContributorCanNeitherSeeNorTouchAnUpload() throws Exception {
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(AUTO))) {
            LoopbackCoordinator.Signed mine = c.spread("alice", c.v0, 1500, 1, 0.01f, "alice's change");
            String id = mine.spec().uploadId();
            int half = mine.payload().length / 2;
            LoopbackCoordinator.PushStream cut = c.stream("alice", mine, 0).send(mine.payload(), 0, half);
            awaitOffset(c, "alice", id, half);
            cut.cancel();

            GetUploadResponse bobSees = upload(c, "bob", id);
            assertFalse(bobSees.getExists(), "bob learns nothing about alice's upload: " + bobSees);
            assertEquals(upload(c, "bob", "ab".repeat(32)), bobSees, "the same answer as for an id nobody uses");

            // Bob's own header (his name, his valid signature) claiming alice's digest, then garbage.
            LoopbackCoordinator.Signed claim = c.claiming("bob", mine);
            Proposal bobs = c.stream("bob", claim, 0).send(new byte[512], 0, 512).finish();
            assertEquals(ProposalStatus.REJECTED, bobs.getStatus(), bobs.toString());
            // Resuming "her" upload at her offset is no way in either: bob holds no such bytes.
            ExecutionException e = assertThrows(ExecutionException.class, () -> c.stream("bob", claim, half).finish());
            assertEquals(Status.Code.FAILED_PRECONDITION, code(e));

            assertEquals(half, upload(c, "alice", id).getOffset(), "alice's staged bytes are untouched");
            Proposal done = resume(c, "alice", mine, half);
            assertEquals(ProposalStatus.MERGED, done.getStatus(), done.toString());
        }
    }

    /** Before the fix there was no cap: every header-only stream held a descriptor, without end. */
    @Test
    void aContributorsConcurrentUploadsAndStagedBytesAreCapped() throws Exception {
        UnaryOperator<dev.merit.coordinator.Coordinator.Builder> setup = b -> b.policy(AUTO)
                .uploadLimits(new UploadLimits(2, 6000, Duration.ofHours(1)));
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, setup)) {
            LoopbackCoordinator.Signed firstUpload = c.spread("alice", c.v0, 10, 3, 0.1f, "one");
            LoopbackCoordinator.Signed secondUpload = c.spread("alice", c.v0, 10, 5, 0.1f, "two");
            LoopbackCoordinator.PushStream one = c.stream("alice", firstUpload, 0);
            LoopbackCoordinator.PushStream two = c.stream("alice", secondUpload, 0);
            LoopbackCoordinator.Signed third = c.spread("alice", c.v0, 10, 7, 0.1f, "three");
            LoopbackCoordinator.Signed bobs = c.spread("bob", c.v0, 10, 11, 0.1f, "bob's");
            // Header-only streams hold their uploads open; the third is refused once the first two are in
            // (under load the two headers may reach the server after the third's, so wait for them).
            awaitUpload(c, "alice", firstUpload.spec().uploadId());
            awaitUpload(c, "alice", secondUpload.spec().uploadId());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            ExecutionException refused = null;
            while (refused == null && System.nanoTime() < deadline) {
                try {
                    c.stream("alice", third, 0).send(third.payload(), 0, third.payload().length).finish();
                    fail("a third concurrent upload of alice was let in");
                } catch (ExecutionException e) {
                    if (code(e) == Status.Code.RESOURCE_EXHAUSTED) {
                        refused = e;
                    }
                }
            }
            assertTrue(refused != null && refused.getCause().getMessage().contains("the limit is 2 at once"), String.valueOf(refused));
            assertEquals(ProposalStatus.MERGED, c.push("bob", bobs).getStatus(), "another contributor is not held up");
            one.cancel();
            two.cancel();
            assertEquals(ProposalStatus.MERGED, resume(c, "alice", third, 0).getStatus(), "once hers end, alice pushes again");

            // Staged bytes: a payload beyond what one contributor may stage is refused while it streams.
            LoopbackCoordinator.Signed big = c.spread("alice", c.head(), 2000, 1, 0.01f, "too big to stage");
            assertTrue(big.payload().length > 6000, "payload " + big.payload().length);
            ExecutionException e = assertThrows(ExecutionException.class,
                    () -> c.stream("alice", big, 0).send(big.payload(), 0, big.payload().length).finish());
            assertEquals(Status.Code.RESOURCE_EXHAUSTED, code(e));
            assertTrue(e.getCause().getMessage().contains("the limit is 6000"), e.getCause().getMessage());
            assertEquals(1, c.coord.proposals().store().list(p -> p.contributor().equals("alice"), 100).size(), "nothing stored for it");
        }
    }

    /** Before the fix staged uploads never expired, across restarts too, nor did idle streams let go. */
    @Test
    void idleUploadsExpireWhileRunningAndAcrossARestart() throws Exception {
        UnaryOperator<dev.merit.coordinator.Coordinator.Builder> quick = b -> b.policy(AUTO)
                .uploadLimits(new UploadLimits(4, 1L << 30, Duration.ofMillis(800)));
        UnaryOperator<dev.merit.coordinator.Coordinator.Builder> slow = b -> b.policy(AUTO)
                .uploadLimits(new UploadLimits(4, 1L << 30, Duration.ofHours(1)));
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, slow)) {
            LoopbackCoordinator.Signed s = c.spread("alice", c.v0, 1500, 1, 0.01f, "left behind");
            String id = s.spec().uploadId();
            int half = s.payload().length / 2;
            LoopbackCoordinator.PushStream cut = c.stream("alice", s, 0).send(s.payload(), 0, half);
            awaitOffset(c, "alice", id, half);
            cut.cancel();
            c.stop();
            Thread.sleep(1200); // older than the expiry the next start uses

            c.start(quick);
            assertFalse(upload(c, "alice", id).getExists(), "the restart expired the upload left behind");

            // A stream that holds an upload open without writing loses it the same way.
            LoopbackCoordinator.Signed t = c.spread("alice", c.v0, 1500, 1, 0.02f, "stalled");
            LoopbackCoordinator.PushStream stalled = c.stream("alice", t, 0).send(t.payload(), 0, 100);
            awaitOffset(c, "alice", t.spec().uploadId(), 100);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (upload(c, "alice", t.spec().uploadId()).getExists()) {
                assertTrue(System.nanoTime() < deadline, "the idle stream's upload never expired");
                Thread.sleep(50);
            }
            ExecutionException e = assertThrows(ExecutionException.class, () -> stalled.send(t.payload(), 100, 200).finish());
            assertEquals(Status.Code.ABORTED, code(e));
            assertTrue(e.getCause().getMessage().contains("expired"), e.getCause().getMessage());
        }
    }
}
