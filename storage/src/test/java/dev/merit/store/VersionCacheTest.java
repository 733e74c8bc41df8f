package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The version cache is written without fsync, so a file torn by a crash must be noticed and rebuilt. */
class VersionCacheTest {

    @TempDir
    Path dir;

    @Test
    void aDamagedCacheFileIsRebuiltAfterARestart() throws Exception {
        Path v0 = TestModels.builder().seed(2).tensor("w", DType.F32, 300, 300).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.05, 3);
        ObjectId c1;
        Path cached;
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            try (SafetensorsFile f = SafetensorsFile.open(v0)) {
                repo.commit().setSource(f).setMessage("v0").call();
            }
            try (SafetensorsFile f = SafetensorsFile.open(v1)) {
                c1 = repo.commit().setSource(f).setMessage("v1").call().id();
            }
            repo.openVersion(c1).close();
            cached = dir.resolve("repo/.merit/cache/" + c1.name() + ".safetensors");
        }
        // What a crash between rename and write-back can leave: the right size, wrong bytes.
        long size = Files.size(cached);
        try (RandomAccessFile f = new RandomAccessFile(cached.toFile(), "rw")) {
            f.seek(size - 1000);
            f.write(new byte[500]);
        }
        try (Repository repo = Repository.open(dir.resolve("repo")); SafetensorsFile got = repo.openVersion(c1);
             SafetensorsFile want = SafetensorsFile.open(v1)) {
            assertEquals(-1, MemorySegment.mismatch(want.data("w"), 0, 360_000, got.data("w"), 0, 360_000),
                    "the damaged cache file was rebuilt from the store");
            // And a commit diffed against the cache sees the true parent: committing v1 again changes nothing.
            try (SafetensorsFile f = SafetensorsFile.open(v1)) {
                CommitResult again = repo.commit().setSource(f).setMessage("same").call();
                assertEquals(repo.readCommit(c1).manifest(), again.commit().manifest());
            }
        }
        assertNotEquals(0, size);
    }
}
