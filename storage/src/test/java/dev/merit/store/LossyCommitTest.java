package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.codec.ValueCoding;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Commits whose values are quantized or factorized: the version is the parent plus the decoded change. */
class LossyCommitTest {

    @TempDir
    Path dir;

    @Test
    void fp16ValuesKeepEachChangeWithinHalfPrecision() {
        Path v0 = TestModels.builder().seed(1).tensor("w", DType.F32, 300, 200).tensor("i", DType.I32, 40).write(dir.resolve("v0.safetensors"));
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.02, 2);
        try (Repository repo = Repository.init(dir.resolve("repo"));
             SafetensorsFile f0 = SafetensorsFile.open(v0); SafetensorsFile f1 = SafetensorsFile.open(v1)) {
            repo.commit().setSource(f0).setMessage("v0").call();
            CommitResult r = repo.commit().setSource(f1).setMessage("fp16").setValueCoding(ValueCoding.FP16).call();
            Path out = dir.resolve("out.safetensors");
            repo.checkout(r.id(), out, ProgressListener.NONE);
            var deltas = r.commit().provenance().path("deltas");
            assertTrue(deltas.path("value_bits_per_entry").asDouble() <= 16.5, deltas.toString());
            try (SafetensorsFile o = SafetensorsFile.open(out)) {
                TensorInfo w = f1.info("w").orElseThrow();
                int changed = 0;
                for (long k = 0; k < w.numel(); k++) {
                    float before = DType.F32.getFloat(f0.data("w"), k);
                    float want = DType.F32.getFloat(f1.data("w"), k);
                    float got = DType.F32.getFloat(o.data("w"), k);
                    if (before == want) {
                        assertEquals(before, got, 0f, "unchanged entries stay exact");
                        continue;
                    }
                    changed++;
                    float change = want - before;
                    // fp16 keeps 11 significant bits of the change; the float32 sum adds one rounding of the result.
                    assertEquals(want, got, Math.abs(change) * 0x1p-11f + Math.ulp(want) + 1e-7f, "w[" + k + "]");
                }
                assertTrue(changed > 1000);
                // Integer tensors are never quantized.
                assertEquals(-1, MemorySegment.mismatch(f1.data("i"), 0, 160, o.data("i"), 0, 160));
            }
        }
    }

    @Test
    void lowRankCommitRecoversALowRankChange() {
        int rows = 120;
        int cols = 80;
        TensorInfo w = TensorInfo.of("w", DType.F32, rows, cols);
        Path v0 = TestModels.builder().seed(3).tensor("w", DType.F32, rows, cols).tensor("b", DType.F32, 7).write(dir.resolve("v0.safetensors"));
        Path v1 = dir.resolve("v1.safetensors");
        SplittableRandom rnd = new SplittableRandom(4);
        double[][] u = new double[rows][2];
        double[][] v = new double[cols][2];
        for (double[] x : u) { x[0] = rnd.nextDouble(-1, 1); x[1] = rnd.nextDouble(-1, 1); }
        for (double[] x : v) { x[0] = rnd.nextDouble(-1, 1); x[1] = rnd.nextDouble(-1, 1); }
        try (SafetensorsFile f0 = SafetensorsFile.open(v0);
             SafetensorsWriter out = SafetensorsWriter.create(v1, f0.tensors(), Map.of())) {
            MemorySegment.copy(f0.data("b"), 0, out.segment("b"), 0, 28);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    long k = (long) i * cols + j;
                    double change = 0.01 * (u[i][0] * v[j][0] + u[i][1] * v[j][1]);
                    DType.F32.setDouble(out.segment("w"), k, DType.F32.getDouble(f0.data("w"), k) + change);
                }
            }
            out.finish();
        }
        try (Repository repo = Repository.init(dir.resolve("repo"));
             SafetensorsFile f0 = SafetensorsFile.open(v0); SafetensorsFile f1 = SafetensorsFile.open(v1)) {
            repo.commit().setSource(f0).setMessage("v0").call();
            CommitResult r = repo.commit().setSource(f1).setMessage("rank 2").setLowRank(2).call();
            long stored = r.commit().storedBytes();
            assertTrue(stored < w.byteSize() / 10, "rank-2 factors of a 120x80 change are small: " + stored);
            Path out = dir.resolve("out.safetensors");
            repo.checkout(r.id(), out, ProgressListener.NONE);
            try (SafetensorsFile o = SafetensorsFile.open(out)) {
                double err = 0;
                double norm = 0;
                for (long k = 0; k < w.numel(); k++) {
                    double want = DType.F32.getDouble(f1.data("w"), k) - DType.F32.getDouble(f0.data("w"), k);
                    double got = DType.F32.getDouble(o.data("w"), k) - DType.F32.getDouble(f0.data("w"), k);
                    err += (want - got) * (want - got);
                    norm += want * want;
                }
                assertTrue(Math.sqrt(err / norm) < 1e-3, "relative error " + Math.sqrt(err / norm));
                assertEquals(List.of("w", "b"), o.tensors().stream().map(TensorInfo::name).toList());
            }
        }
    }
}
