package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Copying history between repositories: only what the receiver lacks, verified on arrival. */
class TransferTest {

    @TempDir
    Path dir;

    private ObjectId commit(Repository repo, Path file) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return repo.commit().setSource(f).setMessage(file.getFileName().toString()).call().id();
        }
    }

    private static int copy(Repository from, Repository to, ObjectId tip, List<ObjectId> have) {
        List<Map.Entry<ObjectKind, ObjectId>> objs = from.missingObjects(tip, have);
        for (var e : objs) {
            to.importObject(e.getKey(), e.getValue(), from.readObject(e.getKey(), e.getValue()).orElseThrow());
        }
        return objs.size();
    }

    @Test
    void sendsOnlyMissingObjectsAndTheCopyChecksOutIdentically() {
        Path v0 = TestModels.builder().tensor("a", DType.F32, 600, 1000).tensor("b", DType.BF16, 77).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.01, 1);
        Path v2 = TestModels.perturb(v1, dir.resolve("v2.safetensors"), 0.01, 2);
        try (Repository a = Repository.init(dir.resolve("a")); Repository b = Repository.init(dir.resolve("b"))) {
            commit(a, v0);
            ObjectId c1 = commit(a, v1);
            int first = copy(a, b, c1, List.of());
            assertEquals(RefUpdate.NEW, b.updateBranch("main", Optional.empty(), c1, "fetch"));
            ObjectId c2 = commit(a, v2);
            List<Map.Entry<ObjectKind, ObjectId>> missing = a.missingObjects(c2, List.of(c1));
            // One new commit: its manifest, the commit and the changed tensors' deltas; no chunks.
            assertTrue(missing.stream().noneMatch(e -> e.getKey() == ObjectKind.CHUNK), missing.toString());
            assertEquals(ObjectKind.COMMIT, missing.getLast().getKey());
            assertTrue(missing.size() < first);
            copy(a, b, c2, List.of(c1));
            assertEquals(RefUpdate.UPDATED, b.updateBranch("main", Optional.of(c1), c2, "fetch"));
            Path out = dir.resolve("out.safetensors");
            b.checkout(c2, out, ProgressListener.NONE);
            Tensors.assertSameTensors(v2, out);
            assertTrue(b.fsck(ProgressListener.NONE).ok());
        }
    }

    @Test
    void refusesBytesThatDoNotMatchTheirId() {
        Path v0 = TestModels.builder().tensor("a", DType.F32, 10).write(dir.resolve("v0.safetensors"));
        try (Repository a = Repository.init(dir.resolve("a")); Repository b = Repository.init(dir.resolve("b"))) {
            ObjectId c0 = commit(a, v0);
            byte[] bytes = a.readObject(ObjectKind.COMMIT, c0).orElseThrow();
            bytes[bytes.length - 2] ^= 1;
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> b.importObject(ObjectKind.COMMIT, c0, bytes));
            assertTrue(e.getMessage().contains("commit " + c0), e.getMessage());
            assertEquals(-1, b.objectSize(c0));
        }
    }
}
