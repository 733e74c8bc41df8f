package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeInput;
import dev.merit.merge.Merger;
import dev.merit.merge.Strategy;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.testing.TestModels;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Commits made of SET changes on the head ({@link CommitCommand#setChanges}) and merges that use them. */
class SparseCommitTest {

    @TempDir
    Path dir;

    private static TestModels model(long seed) {
        return TestModels.builder().seed(seed).metadata("format", "pt")
                .tensor("w", DType.F32, 64, 40).tensor("h", DType.BF16, 100).tensor("ids", DType.I64, 8);
    }

    private static CommitResult commit(Repository repo, Path file, String msg) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return repo.commit().setSource(f).setMessage(msg).call();
        }
    }

    /** A SET delta of {@code count} random positions with random new values, in the tensor's dtype. */
    private static SparseTensorDelta randomSet(TensorInfo t, int count, long seed, Arena arena) {
        SplittableRandom rnd = new SplittableRandom(seed);
        long[] pos = rnd.longs(0, t.numel()).distinct().limit(count).sorted().toArray();
        MemorySegment ps = arena.allocate(8L * pos.length, 8);
        MemorySegment vs = arena.allocate((long) t.dtype().byteSize() * pos.length, 8);
        for (int k = 0; k < pos.length; k++) {
            ps.setAtIndex(SparseTensorDelta.POSITION, k, pos[k]);
            t.dtype().setFloat(vs, k, (float) rnd.nextGaussian());
        }
        return new SparseTensorDelta(t, SparseTensorDelta.Semantics.SET, pos.length, ps, vs);
    }

    /** {@code src} with the deltas applied, written to {@code dst}. */
    private static Path applied(Path src, Map<String, SparseTensorDelta> deltas, Path dst) {
        try (SafetensorsFile f = SafetensorsFile.open(src);
             SafetensorsWriter w = SafetensorsWriter.create(dst, f.tensors(), f.metadata())) {
            for (TensorInfo t : f.tensors()) {
                MemorySegment s = w.segment(t.name());
                MemorySegment.copy(f.data(t.name()), 0, s, 0, t.byteSize());
                if (deltas.containsKey(t.name())) {
                    deltas.get(t.name()).applyInPlace(s);
                }
            }
            w.finish();
        }
        return dst;
    }

    @Test
    void changesCommitOnTheHeadAndFullChainsBecomeKeyframes() throws Exception {
        Path v = model(1).write(dir.resolve("v0.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo")); Arena arena = Arena.ofShared()) {
            commit(repo, v, "v0");
            TensorInfo w = repo.manifestOf(repo.resolve("HEAD")).entry("w").orElseThrow().info();
            TensorInfo h = repo.manifestOf(repo.resolve("HEAD")).entry("h").orElseThrow().info();
            boolean sawKeyframe = false;
            for (int i = 1; i <= Repository.MAX_CHAIN + 3; i++) {
                Map<String, SparseTensorDelta> d = i % 3 == 0 ? Map.of("w", randomSet(w, 20, i, arena))
                        : Map.of("w", randomSet(w, 20, i, arena), "h", randomSet(h, 5, 100 + i, arena));
                CommitResult r = repo.commit().setChanges(d).setMessage("change " + i).call();
                Path next = applied(v, d, dir.resolve("v" + i + ".safetensors"));
                Path out = dir.resolve("out" + i + ".safetensors");
                repo.checkout(r.id(), out, ProgressListener.NONE);
                Tensors.assertSameTensors(next, out);
                Manifest.Entry we = repo.manifestOf(r.id()).entry("w").orElseThrow();
                sawKeyframe |= we.deltas().isEmpty();
                assertTrue(we.deltas().size() <= Repository.MAX_CHAIN);
                assertEquals(repo.manifestOf(repo.readCommit(r.id()).parents().getFirst()).entry("ids"),
                        repo.manifestOf(r.id()).entry("ids"), "an unchanged tensor keeps its entry");
                v = next;
            }
            assertTrue(sawKeyframe, "a full chain is rebuilt as a keyframe");
        }
    }

    @Test
    void badChangesAreRefused() {
        Path v = model(2).write(dir.resolve("v0.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo")); Arena arena = Arena.ofShared()) {
            assertThrows(InvalidInputException.class, () -> repo.commit()
                    .setChanges(Map.of("w", randomSet(TensorInfo.of("w", DType.F32, 64, 40), 3, 1, arena))).setMessage("x").call());
            commit(repo, v, "v0");
            TensorInfo w = TensorInfo.of("w", DType.F32, 64, 40);
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> repo.commit()
                    .setChanges(Map.of("nope", randomSet(TensorInfo.of("nope", DType.F32, 4), 2, 1, arena))).setMessage("x").call());
            assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
            SparseTensorDelta set = randomSet(w, 3, 1, arena);
            SparseTensorDelta add = new SparseTensorDelta(w, SparseTensorDelta.Semantics.ADD, 3, set.positions(), set.values());
            e = assertThrows(InvalidInputException.class, () -> repo.commit().setChanges(Map.of("w", add)).setMessage("x").call());
            assertTrue(e.getMessage().contains("SET"), e.getMessage());
            SparseTensorDelta bf = randomSet(TensorInfo.of("w", DType.BF16, 64, 40), 3, 1, arena);
            assertThrows(InvalidInputException.class, () -> repo.commit().setChanges(Map.of("w", bf)).setMessage("x").call());
        }
    }

    /** Two branches merged from their stored deltas equal a dense merge of the two files. */
    @Test
    void mergeCommitsOnlyTheMergedEntriesAndMatchesADenseMerge() throws Exception {
        TestModels m = TestModels.builder().seed(5).tensor("w", DType.F32, 200, 50).tensor("b", DType.F32, 50)
                .tensor("ids", DType.I64, 8);
        Path base = m.write(dir.resolve("base.safetensors"));
        Path a = keepInts(base, TestModels.perturb(base, dir.resolve("a.safetensors"), 0.02, 6));
        Path b = keepInts(base, TestModels.perturb(base, dir.resolve("b.safetensors"), 0.05, 7));
        for (Strategy s : List.of(Strategy.AVERAGE, Strategy.TIES, Strategy.MEDIAN)) {
            Path repoDir = dir.resolve("repo-" + s.id());
            try (Repository repo = Repository.init(repoDir)) {
                commit(repo, base, "base");
                repo.createBranch("x", repo.resolve("HEAD"));
                commit(repo, a, "a");
                repo.switchBranch("x");
                commit(repo, b, "b");
                repo.switchBranch("main");
                MergeCommand.Result r = repo.merge().setRevisions(List.of("main", "x")).setStrategy(s)
                        .setParameters(Map.of("density", 0.5)).call();
                assertEquals("sparse", repo.readCommit(r.commit().id()).provenance().path("merge").path("mode").asText());
                Path got = dir.resolve("got-" + s.id() + ".safetensors");
                repo.checkout(r.commit().id(), got, ProgressListener.NONE);
                Path want = dir.resolve("want-" + s.id() + ".safetensors");
                try (SafetensorsFile bf = SafetensorsFile.open(base); SafetensorsFile af = SafetensorsFile.open(a);
                     SafetensorsFile xf = SafetensorsFile.open(b)) {
                    Merger.builder().base(bf).input(MergeInput.model("main", af)).input(MergeInput.model("x", xf)).strategy(s)
                            .parameters(dev.merit.merge.MergeParameters.defaults().with(Map.of("density", 0.5)))
                            .metadata(bf.metadata()).build().mergeTo(want);
                }
                Tensors.assertSameTensors(want, got);
                long entries = repo.readCommit(r.commit().id()).provenance().path("selection").path("kept_entries").asLong();
                assertTrue(entries > 0 && entries <= r.merge().elements(), "stored " + entries + " of " + r.merge().elements());
            }
        }
    }

    /** TestModels.perturb also bumps integer tensors; merges copy them from the base, so keep them. */
    private static Path keepInts(Path base, Path model) throws Exception {
        Path tmp = model.resolveSibling(model.getFileName() + ".tmp");
        try (SafetensorsFile bf = SafetensorsFile.open(base); SafetensorsFile f = SafetensorsFile.open(model);
             SafetensorsWriter w = SafetensorsWriter.create(tmp, f.tensors(), f.metadata())) {
            for (TensorInfo t : f.tensors()) {
                MemorySegment src = t.dtype().isFloatingPoint() ? f.data(t.name()) : bf.data(t.name());
                MemorySegment.copy(src, 0, w.segment(t.name()), 0, t.byteSize());
            }
            w.finish();
        }
        Files.move(tmp, model, StandardCopyOption.REPLACE_EXISTING);
        return model;
    }
}
