package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A commit's Fisher is stored at the committed change's entries: a 1% commit with a Fisher costs
 * about twice the delta (not another dense copy of the model), and the checked-out Fisher holds
 * the given values exactly there and 0 elsewhere.
 */
class FisherAtChangesTest {

    @TempDir
    Path dir;

    private int side = 1000;

    private Path model(String name, long seed) {
        return TestModels.builder().seed(seed).tensor("w", DType.F32, side, side).tensor("b", DType.F32, side)
                .tensor("ids", DType.I32, 8).write(dir.resolve(name));
    }

    private Path fisher(String name, long seed) {
        return TestModels.builder().seed(seed).tensor("w", DType.F32, side, side).tensor("b", DType.BF16, side)
                .tensor("ids", DType.F32, 8).write(dir.resolve(name));
    }

    @Test
    void aOnePercentCommitsFisherCostsAboutItsDelta() {
        Path v0 = model("v0.safetensors", 1);
        Path v1 = TestModels.perturb(v0, dir.resolve("v1.safetensors"), 0.01, 2);
        Path v2 = TestModels.perturb(v1, dir.resolve("v2.safetensors"), 0.01, 3);
        try (Repository repo = Repository.init(dir.resolve("repo"));
             SafetensorsFile f0 = SafetensorsFile.open(v0); SafetensorsFile f1 = SafetensorsFile.open(v1);
             SafetensorsFile f2 = SafetensorsFile.open(v2); SafetensorsFile fi0 = SafetensorsFile.open(fisher("f0.safetensors", 10));
             SafetensorsFile fi1 = SafetensorsFile.open(fisher("f1.safetensors", 11));
             SafetensorsFile fi2 = SafetensorsFile.open(fisher("f2.safetensors", 12))) {
            CommitResult r0 = repo.commit().setSource(f0).setFisher(fi0).setMessage("v0").call();
            long model = f0.tensors().stream().mapToLong(TensorInfo::byteSize).sum();
            long denseFisher = fi0.tensors().stream().mapToLong(TensorInfo::byteSize).sum();
            assertTrue(fisherBytes(r0) >= denseFisher, "the first version has no change: its Fisher is stored whole");
            CommitResult r1 = repo.commit().setSource(f1).setFisher(fi1).setMessage("v1").call();
            CommitResult r2 = repo.commit().setSource(f2).setFisher(fi2).setMessage("v2").call();
            for (CommitResult r : new CommitResult[] {r1, r2}) {
                long fb = fisherBytes(r);
                long delta = r.commit().storedBytes() - fb;
                System.out.printf("1%% commit %s: delta and commit %d bytes, Fisher %d bytes (%.2fx), model %d bytes%n",
                        r.commit().message(), delta, fb, (double) fb / delta, model);
            }
            long delta2 = r2.commit().storedBytes() - fisherBytes(r2);
            assertTrue(fisherBytes(r2) < 1.25 * delta2, "Fisher " + fisherBytes(r2) + " bytes for a delta of " + delta2);
            // The first such commit also stores the shared zero chunk (1 MiB) once per repository.
            assertTrue(fisherBytes(r1) < 1.25 * (r1.commit().storedBytes() - fisherBytes(r1)) + 2L * Repository.CHUNK_BYTES,
                    "at most one zero chunk and one zero tail per tensor size on top");

            Path out = dir.resolve("fisher2.safetensors");
            assertTrue(repo.checkoutFisher(r2.id(), out));
            try (SafetensorsFile got = SafetensorsFile.open(out)) {
                for (String t : new String[] {"w", "b"}) {
                    TensorInfo info = fi2.info(t).orElseThrow();
                    DType dt = info.dtype();
                    assertEquals(info, got.info(t).orElseThrow());
                    long changed = 0;
                    for (long k = 0; k < info.numel(); k++) {
                        boolean c = DType.F32.getFloat(f1.data(t), k) != DType.F32.getFloat(f2.data(t), k);
                        double want = c ? dt.getDouble(fi2.data(t), k) : 0;
                        assertEquals(want, dt.getDouble(got.data(t), k), 0, t + "[" + k + "]");
                        changed += c ? 1 : 0;
                    }
                    assertTrue(changed > 0, t);
                }
            }
            assertTrue(repo.fsck(ProgressListener.NONE).ok(), "fsck");
        }
    }

    @Test
    void fisherMergesOfRevisionsReadTheStoredFisherAtTheChangedEntries() {
        side = 300;
        Path v0 = model("m0.safetensors", 4);
        Path left = TestModels.perturb(v0, dir.resolve("left.safetensors"), 0.05, 5);
        Path right = TestModels.perturb(v0, dir.resolve("right.safetensors"), 0.05, 6);
        Path fl = fisher("fl.safetensors", 20);
        Path fr = fisher("fr.safetensors", 21);
        try (Repository repo = Repository.init(dir.resolve("merge-repo"));
             SafetensorsFile b = SafetensorsFile.open(v0); SafetensorsFile l = SafetensorsFile.open(left);
             SafetensorsFile r = SafetensorsFile.open(right); SafetensorsFile fL = SafetensorsFile.open(fl);
             SafetensorsFile fR = SafetensorsFile.open(fr)) {
            ObjectId c0 = repo.commit().setSource(b).setMessage("base").call().id();
            repo.createBranch("left", c0);
            repo.createBranch("right", c0);
            repo.commit().setSource(l).setFisher(fL).setMessage("left").setBranch("left").call();
            repo.commit().setSource(r).setFisher(fR).setMessage("right").setBranch("right").call();
            MergeCommand.Result m = repo.merge().setRevisions(java.util.List.of("left", "right"))
                    .setStrategy(dev.merit.merge.Strategy.FISHER).setMessage("merge").call();
            Path out = dir.resolve("merged.safetensors");
            repo.checkout(m.commit().id(), out, ProgressListener.NONE);
            try (SafetensorsFile got = SafetensorsFile.open(out)) {
                // Independently: per entry, the Fisher-weighted mean of the changes of the inputs that touched it.
                for (String t : new String[] {"w", "b"}) {
                    DType fd = fL.info(t).orElseThrow().dtype();
                    for (long k = 0; k < b.info(t).orElseThrow().numel(); k++) {
                        double base = DType.F32.getDouble(b.data(t), k);
                        double dl = DType.F32.getDouble(l.data(t), k) - base;
                        double dr = DType.F32.getDouble(r.data(t), k) - base;
                        double wl = Math.max(fd.getDouble(fL.data(t), k), 1e-6);
                        double wr = Math.max(fd.getDouble(fR.data(t), k), 1e-6);
                        double num = (dl != 0 ? wl * dl : 0) + (dr != 0 ? wr * dr : 0);
                        double den = (dl != 0 ? wl : 0) + (dr != 0 ? wr : 0);
                        double want = base + (den == 0 ? 0 : num / den);
                        assertEquals(want, DType.F32.getDouble(got.data(t), k), 1e-5 * Math.max(1, Math.abs(want)), t + "[" + k + "]");
                    }
                }
            }
        }
    }

    private static long fisherBytes(CommitResult r) {
        return r.commit().provenance().path("fisher_bytes").asLong();
    }
}
