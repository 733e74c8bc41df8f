package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RepositoryTest {

    @TempDir
    Path dir;

    private static TestModels everyDtype(long seed) {
        TestModels b = TestModels.builder().seed(seed).metadata("format", "pt");
        for (DType d : DType.values()) {
            b.tensor("t." + d.name().toLowerCase(), d, 33, 17);
        }
        return b.tensor("scalar", DType.F32).tensor("empty", DType.F16, 0, 4);
    }

    private CommitResult commit(Repository repo, Path file, String msg) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return repo.commit().setSource(f).setMessage(msg).call();
        }
    }

    @Test
    void losslessCommitsCheckOutExactlyForEveryDtype() {
        Path v0 = everyDtype(1).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.05, 2);
        Path v2 = TestModels.perturb(v1, dir.resolve("v2.safetensors"), 0.3, 3);
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            List<ObjectId> ids = new ArrayList<>();
            for (Path v : List.of(v0, v1, v2)) {
                ids.add(commit(repo, v, "version " + v.getFileName()).id());
            }
            for (int i = 0; i < 3; i++) {
                Path out = dir.resolve("out" + i + ".safetensors");
                repo.checkout(ids.get(i), out, ProgressListener.NONE);
                Tensors.assertSameTensors(List.of(v0, v1, v2).get(i), out);
            }
            assertEquals(ids.get(2), repo.resolve("HEAD"));
            assertEquals(ids.get(1), repo.resolve("HEAD~1"));
            assertEquals(ids.get(0), repo.resolve("main~2"));
            assertEquals(ids.get(0), repo.resolve(ids.get(0).abbreviate(10)));
            assertEquals(List.of(ids.get(1)), repo.readCommit(ids.get(2)).parents());
            assertThrows(NotFoundException.class, () -> repo.resolve("HEAD~3"));
            assertThrows(NotFoundException.class, () -> repo.resolve("nope"));
        }
    }

    @Test
    void unchangedCommitStoresOnlyManifestAndCommit() {
        Path v0 = TestModels.builder().tensor("w", DType.F32, 512, 512).write(dir.resolve("v0.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            CommitResult first = commit(repo, v0, "first");
            assertTrue(first.commit().storedBytes() >= 512 * 512 * 4);
            CommitResult again = commit(repo, v0, "again");
            // The manifest is identical, so nothing at all is added besides the commit object.
            assertEquals(0, again.commit().storedBytes());
            assertEquals(first.commit().manifest(), again.commit().manifest());
        }
    }

    @Test
    void addedRemovedAndReshapedTensorsAreRecorded() {
        Path v0 = TestModels.builder().tensor("a", DType.F32, 10, 10).tensor("b", DType.F32, 5).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.builder().seed(9).tensor("a", DType.F32, 20, 5).tensor("c", DType.BF16, 3).write(dir.resolve("v1.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            commit(repo, v0, "v0");
            ObjectId id = commit(repo, v1, "v1").id();
            Manifest m = repo.manifestOf(id);
            assertEquals(List.of("a", "c"), m.layout().stream().map(t -> t.name()).toList());
            Path out = dir.resolve("out.safetensors");
            repo.checkout(id, out, ProgressListener.NONE);
            Tensors.assertSameTensors(v1, out);
        }
    }

    @Test
    void branchesTagsAndSwitching() {
        Path v0 = TestModels.builder().tensor("w", DType.F32, 8, 8).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.5, 1);
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            ObjectId c0 = commit(repo, v0, "v0").id();
            assertEquals(RefUpdate.NEW, repo.createBranch("exp", c0));
            assertEquals(RefUpdate.NEW, repo.createTag("v0", c0));
            assertThrows(InvalidInputException.class, () -> repo.createBranch("exp", c0));
            assertThrows(InvalidInputException.class, () -> repo.createBranch("bad..name", c0));
            repo.switchBranch("exp");
            assertEquals("exp", repo.currentBranch());
            ObjectId c1 = commit(repo, v1, "on exp").id();
            assertEquals(c1, repo.resolve("exp"));
            assertEquals(c0, repo.resolve("main"));
            assertEquals(c0, repo.resolve("v0"));
            assertThrows(InvalidInputException.class, () -> repo.deleteBranch("exp"));
            repo.switchBranch("main");
            assertEquals(RefUpdate.DELETED, repo.deleteBranch("exp"));
            assertFalse(repo.branches().containsKey("exp"));
            // The reflog remembers the deleted branch's moves.
            assertEquals(3, repo.reflog("refs/heads/exp").size());
        }
    }

    @Test
    void reopenedRepositoryKeepsEverything() {
        Path v0 = TestModels.builder().tensor("w", DType.F16, 64).write(dir.resolve("v0.safetensors"));
        ObjectId id;
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            id = commit(repo, v0, "v0").id();
        }
        try (Repository repo = Repository.open(dir.resolve("repo").resolve("sub-does-not-matter").getParent())) {
            assertEquals(Optional.of(id), repo.head());
            assertEquals("v0", repo.readCommit(id).message());
        }
        assertThrows(NotFoundException.class, () -> Repository.open(dir.resolve("elsewhere")));
        assertThrows(InvalidInputException.class, () -> Repository.init(dir.resolve("repo")));
    }
}
