package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FsckGcTest {

    @TempDir
    Path dir;

    private ObjectId commit(Repository repo, Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return repo.commit().setSource(f).setMessage(file.getFileName().toString()).call().id();
        }
    }

    @Test
    void fsckFindsCorruptedAndMissingObjects() {
        Path v0 = TestModels.builder().tensor("a", DType.F32, 700, 1000).tensor("b", DType.F16, 100).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.001, 1);
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            commit(repo, v0);
            ObjectId c1 = commit(repo, v1);
            FsckReport clean = repo.fsck(ProgressListener.NONE);
            assertTrue(clean.ok(), clean.problems().toString());
            assertTrue(clean.checked() > 4);

            Manifest m = repo.manifestOf(c1);
            ObjectId chunk = m.entry("a").orElseThrow().keyframe().get(1);
            ObjectId delta = m.entry("a").orElseThrow().deltas().get(0);
            byte[] bytes = repo.store().get(ObjectKind.CHUNK, chunk);
            bytes[12345] ^= 1;
            // What a failing disk would do: one chunk's bytes change, one delta disappears.
            try (RocksStore.Batch b = repo.store().newBatch()) {
                b.put(ObjectKind.CHUNK, chunk, bytes);
                b.delete(ObjectKind.DELTA, delta);
                repo.store().write(b, true);
            }

            FsckReport bad = repo.fsck(ProgressListener.NONE);
            assertEquals(2, bad.problems().size(), bad.problems().toString());
            assertTrue(bad.problems().stream().anyMatch(p -> p.startsWith("corrupt chunk " + chunk)), bad.problems().toString());
            assertTrue(bad.problems().stream().anyMatch(p -> p.equals("missing delta " + delta)), bad.problems().toString());
        }
    }

    @Test
    void gcRemovesOnlyUnreachableObjects() {
        Path v0 = TestModels.builder().tensor("a", DType.F32, 300, 1000).write(dir.resolve("v0.safetensors"));
        Path other = TestModels.builder().seed(77).tensor("a", DType.F32, 300, 1000).write(dir.resolve("other.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            ObjectId c0 = commit(repo, v0);
            repo.createBranch("tmp", c0);
            repo.switchBranch("tmp");
            ObjectId c1 = commit(repo, other);
            repo.switchBranch("main");
            GcReport none = repo.gc();
            assertEquals(0, none.removedObjects(), "everything is reachable from branch tmp");

            // Simulate an interrupted commit: chunks written, no commit pointing at them.
            try (ObjectSink sink = new ObjectSink(repo.store())) {
                sink.putChunks(java.lang.foreign.MemorySegment.ofArray(new byte[3 * Repository.CHUNK_BYTES + 5]), ProgressListener.NONE);
                sink.finish();
            }
            GcReport orphans = repo.gc();
            assertEquals(2, orphans.removedObjects(), "two distinct chunks (zeros x3 dedupe to one, plus the tail)");
            assertEquals(Optional.of(c0), repo.head());
            assertTrue(repo.fsck(ProgressListener.NONE).ok());
            assertEquals(c1, repo.resolve("tmp"));
        }
    }
}
