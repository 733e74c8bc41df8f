package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BackupTest {

    @TempDir
    Path dir;

    /** Repeated: a commit racing the checkpoint shows up only in some interleavings. */
    @RepeatedTest(5)
    void aBackupTakenWhileCommitsGoOnIsARepositoryThatPassesFsckAndHoldsEverythingBefore() throws Exception {
        Path v0 = TestModels.builder().tensor("w", DType.F32, 64, 64).tensor("b", DType.F32, 64).write(dir.resolve("v0.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            ObjectId first;
            try (SafetensorsFile f = SafetensorsFile.open(v0)) {
                first = repo.commit().setSource(f).setMessage("base").call().id();
            }
            repo.createTag("v0", first);
            try (Transaction tx = repo.newTransaction()) {
                tx.putRecord("proposals", "p1", "{\"status\":\"accepted\"}".getBytes(StandardCharsets.UTF_8));
                tx.addEvent("merit.versions", "main", "{}".getBytes(StandardCharsets.UTF_8));
                tx.commit();
            }
            // A writer keeps committing to another branch while the backup is taken.
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService pool = Executors.newSingleThreadExecutor();
            Future<Integer> writer = pool.submit(() -> {
                int n = 0;
                Path prev = v0;
                while (!stop.get() && n < 40) {
                    Path next = TestModels.perturb(prev, dir.resolve("w" + n + ".safetensors"), 0.1, n);
                    try (SafetensorsFile f = SafetensorsFile.open(next)) {
                        repo.commit().setSource(f).setMessage("w" + n).setBranch("busy").call();
                    }
                    prev = next;
                    n++;
                }
                return n;
            });
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (repo.branches().get("busy") == null && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            ObjectId busyBefore = repo.branches().get("busy");
            Path target = repo.backup(dir.resolve("backup"));
            stop.set(true);
            assertTrue(writer.get() > 0);
            pool.shutdown();

            try (Repository copy = Repository.open(target)) {
                FsckReport report = copy.fsck(ProgressListener.NONE);
                assertTrue(report.ok(), "fsck of the backup: " + report.problems());
                assertEquals(Optional.of(first), copy.head());
                assertEquals(Map.of("v0", first), Map.copyOf(copy.tags()));
                assertTrue(copy.getRecord("proposals", "p1").isPresent(), "records are in the backup");
                assertEquals(1, copy.outbox().pending(10).size(), "unpublished events are in the backup");
                // The backup's branch is at or after where it was when the backup started.
                ObjectId busy = copy.branches().get("busy");
                List<ObjectId> history = new ArrayList<>();
                copy.log(busy, 100).forEach(e -> history.add(e.getKey()));
                assertTrue(history.contains(busyBefore), "branch 'busy' in the backup includes " + busyBefore);
                try (SafetensorsFile restored = copy.openVersion(first); SafetensorsFile original = SafetensorsFile.open(v0)) {
                    for (var t : original.tensors()) {
                        assertTrue(original.data(t.name()).mismatch(restored.data(t.name())) < 0, "tensor " + t.name());
                    }
                }
            }
        }
    }

    @Test
    void aTargetThatIsNotEmptyIsRefusedAndLeftAlone() throws Exception {
        Path v0 = TestModels.builder().tensor("w", DType.F32, 8).write(dir.resolve("v0.safetensors"));
        Path target = Files.createDirectories(dir.resolve("taken"));
        Files.writeString(target.resolve("notes.txt"), "mine");
        try (Repository repo = Repository.init(dir.resolve("repo")); SafetensorsFile f = SafetensorsFile.open(v0)) {
            repo.commit().setSource(f).setMessage("base").call();
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> repo.backup(target));
            assertTrue(e.getMessage().contains("not empty") && e.getMessage().contains("taken"), e.getMessage());
        }
        assertEquals("mine", Files.readString(target.resolve("notes.txt")));
        assertFalse(Files.exists(target.resolve(".merit")));
    }
}
