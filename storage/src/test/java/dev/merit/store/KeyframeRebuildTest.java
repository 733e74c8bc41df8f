package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.codec.ValueCoding;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Commits past a full delta chain rebuild the tensor as a keyframe. With a tensor over one chunk
 * (1 MiB) the rebuilt bytes are hashed and stored by several pool threads, so these tests fail
 * if the rebuilt tensor lives in memory confined to the committing thread. The module's tests
 * also run with a common pool of 8 workers (see the pom), where that is the rule, not the exception.
 */
class KeyframeRebuildTest {

    @TempDir
    Path dir;

    /** 1024 x 1024 float32 = 4 MiB: four chunks. */
    private static final int SIDE = 1024;

    @Test
    void lossyCommitsPastAFullChainRebuildTheKeyframe() {
        Path base = TestModels.builder().seed(11).tensor("w", DType.F32, SIDE, SIDE)
                .write(dir.resolve("v0.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            try (SafetensorsFile f = SafetensorsFile.open(base)) {
                repo.commit().setSource(f).setMessage("base").call();
            }
            Path current = base;
            int rounds = Repository.MAX_CHAIN + 4;
            for (int round = 1; round <= rounds; round++) {
                Path next = TestModels.perturb(current, dir.resolve("next-" + round + ".safetensors"), 0.02, 100 + round);
                CommitResult r;
                try (SafetensorsFile f = SafetensorsFile.open(next)) {
                    r = repo.commit().setSource(f).setMessage("round " + round)
                            .setSelection(Selection.density(0.005)).setValueCoding(ValueCoding.FP16).call();
                }
                Path out = dir.resolve("base-" + round + ".safetensors");
                repo.checkout(r.id(), out, ProgressListener.NONE);
                current = out;
            }
            Manifest.Entry w = repo.manifestOf(repo.head().orElseThrow()).entry("w").orElseThrow();
            assertTrue(w.deltas().size() < Repository.MAX_CHAIN, "the chain was cut by a new keyframe: " + w.deltas().size());
            assertTrue(repo.fsck(ProgressListener.NONE).ok(), "fsck after keyframe rebuilds");
        }
    }

    @Test
    void sparseChangeCommitsPastAFullChainRebuildTheKeyframe() {
        Path base = TestModels.builder().seed(12).tensor("w", DType.F32, SIDE, SIDE).write(dir.resolve("v0.safetensors"));
        TensorInfo info = TensorInfo.of("w", DType.F32, SIDE, SIDE);
        float[] expected = new float[SIDE * SIDE];
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            try (SafetensorsFile f = SafetensorsFile.open(base)) {
                repo.commit().setSource(f).setMessage("base").call();
                MemorySegment.copy(f.data("w"), java.lang.foreign.ValueLayout.JAVA_FLOAT, 0, expected, 0, expected.length);
            }
            SplittableRandom rnd = new SplittableRandom(5);
            for (int round = 1; round <= Repository.MAX_CHAIN + 4; round++) {
                int k = 500;
                try (Arena arena = Arena.ofConfined()) {
                    long[] positions = rnd.longs(k * 2L, 0, (long) SIDE * SIDE).distinct().limit(k).sorted().toArray();
                    MemorySegment pos = arena.allocate((long) positions.length * Long.BYTES, 8);
                    MemorySegment val = arena.allocate((long) positions.length * Float.BYTES, 8);
                    for (int i = 0; i < positions.length; i++) {
                        float v = (float) rnd.nextDouble(-1, 1);
                        pos.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, i, positions[i]);
                        val.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, v);
                        expected[(int) positions[i]] = v;
                    }
                    SparseTensorDelta d = new SparseTensorDelta(info, SparseTensorDelta.Semantics.SET, positions.length, pos, val);
                    repo.commit().setChanges(Map.of("w", d)).setMessage("changes " + round).call();
                }
            }
            Path out = dir.resolve("out.safetensors");
            repo.checkout(repo.head().orElseThrow(), out, ProgressListener.NONE);
            try (SafetensorsFile o = SafetensorsFile.open(out)) {
                for (int i = 0; i < expected.length; i++) {
                    assertEquals(expected[i], DType.F32.getFloat(o.data("w"), i), 0f, "w[" + i + "]");
                }
            }
            Manifest.Entry w = repo.manifestOf(repo.head().orElseThrow()).entry("w").orElseThrow();
            assertTrue(w.deltas().size() < Repository.MAX_CHAIN, "the chain was cut by a new keyframe: " + w.deltas().size());
        }
    }
}
