package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Versions cost about the size of their change, and delta chains stay bounded. */
class StoreSizeTest {

    @TempDir
    Path dir;

    @Test
    void onePercentChangeOfTenMillionParametersCostsUnderTwoAndAHalfPercent() {
        Path v0 = TestModels.builder().seed(3)
                .tensor("embed", DType.F32, 4000, 1000)
                .tensor("layer.0", DType.F32, 2000, 1500)
                .tensor("layer.1", DType.F32, 3000, 1000)
                .write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.01, 4);
        long dense = 10_000_000L * 4;
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            try (SafetensorsFile f = SafetensorsFile.open(v0)) {
                repo.commit().setSource(f).setMessage("base").call();
            }
            CommitResult r;
            try (SafetensorsFile f = SafetensorsFile.open(v1)) {
                r = repo.commit().setSource(f).setMessage("1%").call();
            }
            long added = r.commit().storedBytes() + repo.objectSize(r.id());
            assertTrue(added < 0.025 * dense, "commit added " + added + " bytes, " + (100.0 * added / dense) + "% of dense");
            Path out = dir.resolve("out.safetensors");
            repo.checkout(r.id(), out, ProgressListener.NONE);
            Tensors.assertSameTensors(v1, out);
        }
    }

    @Test
    void deltaChainsEndInKeyframesAndEveryVersionStillChecksOut() {
        Path prev = TestModels.builder().seed(5).tensor("w", DType.BF16, 300, 200).write(dir.resolve("v0.safetensors"));
        List<Path> versions = new ArrayList<>(List.of(prev));
        for (int i = 1; i <= Repository.MAX_CHAIN + 3; i++) {
            prev = TestModels.perturb(prev, dir.resolve("v" + i + ".safetensors"), 0.002, 100 + i);
            versions.add(prev);
        }
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            List<ObjectId> ids = new ArrayList<>();
            for (Path v : versions) {
                try (SafetensorsFile f = SafetensorsFile.open(v)) {
                    ids.add(repo.commit().setSource(f).setMessage(v.getFileName().toString()).call().id());
                }
            }
            int maxChain = 0;
            for (ObjectId id : ids) {
                Manifest.Entry e = repo.manifestOf(id).entry("w").orElseThrow();
                maxChain = Math.max(maxChain, e.deltas().size());
            }
            assertEquals(Repository.MAX_CHAIN, maxChain, "chains grow to the limit and no further");
            Manifest.Entry last = repo.manifestOf(ids.getLast()).entry("w").orElseThrow();
            assertTrue(last.deltas().size() < Repository.MAX_CHAIN, "a keyframe was written after the limit");
            for (int i = 0; i < ids.size(); i++) {
                Path out = dir.resolve("out.safetensors");
                repo.checkout(ids.get(i), out, ProgressListener.NONE);
                Tensors.assertSameTensors(versions.get(i), out);
            }
        }
    }
}
