package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.proto.v1.AdminServiceGrpc;
import dev.merit.proto.v1.BackupRequest;
import dev.merit.proto.v1.BackupResponse;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code merit admin backup}'s RPC: a maintainer backs the running coordinator up; a coordinator
 * started on the backup serves the state of that moment and its store passes fsck. Before this
 * RPC there was no way to back a running coordinator up (RocksDB holds its lock).
 */
class BackupRpcTest {

    @TempDir
    Path dir;

    private static BackupResponse backup(LoopbackCoordinator c, String token, String directory) {
        return LoopbackCoordinator.with(AdminServiceGrpc.newBlockingStub(c.channel()), token)
                .backup(BackupRequest.newBuilder().setDirectory(directory).build());
    }

    @Test
    void aMaintainerBacksUpARunningCoordinatorAndTheBackupServes() throws Exception {
        PolicyConfig auto = PolicyConfig.defaults().withPolicy(MergePolicy.AUTO);
        Path target = dir.resolve("backup");
        ObjectId atBackup;
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(auto))) {
            Proposal a = c.push("alice", c.v0, new long[] {1, 2}, new float[] {0.5f, 0.5f}, "a");
            Proposal b = c.push("alice", c.head(), new long[] {3}, new float[] {0.5f}, "b");
            atBackup = c.head();

            StatusRuntimeException denied = assertThrows(StatusRuntimeException.class, () -> backup(c, c.contributor("alice"), target.toString()));
            assertEquals(Status.Code.PERMISSION_DENIED, denied.getStatus().getCode());
            StatusRuntimeException relative = assertThrows(StatusRuntimeException.class, () -> backup(c, c.adminToken, "backup"));
            assertEquals(Status.Code.INVALID_ARGUMENT, relative.getStatus().getCode());
            assertTrue(relative.getStatus().getDescription().contains("absolute path"), relative.getStatus().getDescription());

            BackupResponse r = backup(c, c.adminToken, target.toString());
            assertEquals(target.toAbsolutePath().normalize().toString(), r.getDirectory());
            assertTrue(r.getBytes() > 0);
            StatusRuntimeException again = assertThrows(StatusRuntimeException.class, () -> backup(c, c.adminToken, target.toString()));
            assertEquals(Status.Code.INVALID_ARGUMENT, again.getStatus().getCode(), "a backup never overwrites: " + again.getStatus());

            // The coordinator keeps serving; what comes after the backup is not in it.
            Proposal later = c.push("alice", c.head(), new long[] {4}, new float[] {0.5f}, "after the backup");
            assertEquals(ProposalStatus.MERGED, later.getStatus());
            assertNotEquals(atBackup, c.head());
        }

        // Restore: serve the backup directory.
        try (var restored = dev.merit.coordinator.Coordinator.builder(target).listen("127.0.0.1", 0).start()) {
            assertEquals(atBackup, restored.versions().requireHead("main"), "the head at the time of the backup");
            assertEquals(2, restored.versions().number(restored.versions().requireHead("main")));
            assertEquals(java.util.List.of(), restored.repository().fsck(ProgressListener.NONE).problems());
            assertEquals(2, restored.proposals().store().list(p -> true, 100).size(), "the two proposals of before, not the later one");
            assertTrue(restored.initialAdminToken().isEmpty(), "tokens came along: no new admin token");
        }
        assertTrue(Files.isDirectory(target.resolve(dev.merit.store.Repository.DIR_NAME)));
    }
}
