package dev.merit.merge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file output (staged blocks, positional writes, chunks shared by workers) writes the same
 * bytes as a mapped {@link MergeSink}, and the single-pass dense kernels give the same bits as the
 * general path that loads every input into the block first.
 */
class OutputPathTest {

    @TempDir
    static Path dir;
    static Path base;
    /** The base without its integer tensor, which the dense delta files lack. */
    static Path floatBase;
    static final List<Path> models = new ArrayList<>();
    static final List<Path> fishers = new ArrayList<>();
    static final List<MergeFixtures.Sparse> sparse = new ArrayList<>();
    static final List<Path[]> dense = new ArrayList<>();

    @BeforeAll
    static void fixtures() {
        // "big" spans several scheduling chunks (and overflows a stage when written as F64).
        List<TensorInfo> layout = new ArrayList<>(MergeFixtures.layout(DType.F32));
        layout.add(TensorInfo.of("big", DType.F32, 700, 1000));
        base = MergeFixtures.model(dir.resolve("base.safetensors"), layout, 1);
        floatBase = MergeFixtures.model(dir.resolve("float-base.safetensors"),
                layout.stream().filter(t -> t.dtype().isFloatingPoint()).toList(), 2);
        for (int i = 0; i < 3; i++) {
            models.add(MergeFixtures.perturbed(base, dir.resolve("m" + i + ".safetensors"), 0.5, 10 + i));
            fishers.add(MergeFixtures.fisher(dir.resolve("f" + i + ".safetensors"), layout, DType.F32, 20 + i));
            // Full density: the sparse input touches every entry, so it equals its dense file.
            MergeFixtures.Sparse s = new MergeFixtures.Sparse("s" + i, layout, 1.0, 30 + i);
            sparse.add(s);
            dense.add(s.writeDense(dir));
        }
    }

    private static Merger.Builder models(Strategy s, Map<String, Object> params, List<TensorSource> open) {
        TensorSource b = SafetensorsFile.open(base);
        open.add(b);
        Merger.Builder mb = Merger.builder().base(b).strategy(s).parameters(MergeParameters.defaults().with(params))
                .blockSize(5000).threads(2);
        for (int i = 0; i < models.size(); i++) {
            TensorSource m = SafetensorsFile.open(models.get(i));
            TensorSource f = SafetensorsFile.open(fishers.get(i));
            open.add(m);
            open.add(f);
            mb.input(MergeInput.model("m" + i, m).withWeight(1 + i).withFisher(f));
        }
        return mb;
    }

    /** Merges to a file, and again into a mapped writer through the sink API; returns both files. */
    private static Path[] bothWays(Strategy s, Map<String, Object> params, DType out, String name) {
        Path file = dir.resolve(name + ".file.safetensors");
        Path mapped = dir.resolve(name + ".mapped.safetensors");
        List<TensorSource> open = new ArrayList<>();
        try {
            Merger m = models(s, params, open).outputDType(out).build();
            m.mergeTo(file);
            try (SafetensorsWriter w = SafetensorsWriter.create(mapped, m.layout(), m.metadata())) {
                m.mergeTo(info -> w.segment(info.name()));
                w.finish();
            }
        } finally {
            open.forEach(TensorSource::close);
        }
        return new Path[] {file, mapped};
    }

    @Test
    void fileOutputMatchesMappedSinkForEveryStrategyAndDType() throws Exception {
        record Case(Strategy s, Map<String, Object> params, DType out) {}
        List<Case> cases = List.of(
                new Case(Strategy.AVERAGE, Map.of(), null),
                new Case(Strategy.AVERAGE, Map.of("average_over", "touched"), DType.BF16),
                new Case(Strategy.FISHER, Map.of("fisher_floor", 1e-3), DType.F64),
                new Case(Strategy.TASK_ARITHMETIC, Map.of("lambda", 0.7), DType.F16),
                new Case(Strategy.TIES, Map.of("density", 0.3), null),
                new Case(Strategy.DARE, Map.of("drop_rate", 0.5, "seed", 7), null),
                new Case(Strategy.MEDIAN, Map.of(), DType.F64));
        for (Case c : cases) {
            Path[] p = bothWays(c.s(), c.params(), c.out(), c.s().id() + "-" + c.out());
            assertEquals(-1, Files.mismatch(p[0], p[1]), c.toString());
        }
        // The integer tensor is copied from the base, not merged.
        Path[] p = bothWays(Strategy.AVERAGE, Map.of(), null, "ids");
        try (SafetensorsFile a = SafetensorsFile.open(p[0]); SafetensorsFile b = SafetensorsFile.open(base)) {
            assertEquals(-1, a.data("ids").mismatch(b.data("ids")));
        }
    }

    /** Dense delta files take the single-pass kernels; the same deltas as full-density sparse inputs take the general path. */
    private static Path deltas(Strategy s, Map<String, Object> params, boolean asSparse, String name) {
        Path out = dir.resolve(name + (asSparse ? ".sparse" : ".dense") + ".safetensors");
        List<TensorSource> open = new ArrayList<>();
        try (TensorSource b = SafetensorsFile.open(floatBase)) {
            // One thread: the scan's sums (clipping norms, Fisher means) are then added in the same order.
            Merger.Builder mb = Merger.builder().base(b).strategy(s).parameters(MergeParameters.defaults().with(params))
                    .blockSize(3000).threads(1);
            for (int i = 0; i < sparse.size(); i++) {
                if (asSparse) {
                    mb.input(MergeInput.sparse("s" + i, sparse.get(i)).withWeight(0.5 + i));
                } else {
                    TensorSource d = SafetensorsFile.open(dense.get(i)[0]);
                    TensorSource f = SafetensorsFile.open(dense.get(i)[2]);
                    open.add(d);
                    open.add(f);
                    mb.input(MergeInput.delta("s" + i, d).withWeight(0.5 + i).withFisher(f));
                }
            }
            mb.build().mergeTo(out);
        } finally {
            open.forEach(TensorSource::close);
        }
        return out;
    }

    @Test
    void denseKernelsGiveTheGeneralPathsBits() throws Exception {
        List<Map<String, Object>> averages = List.of(Map.of(), Map.of("clip_norm", 0.5), Map.of("step_size", 0.5));
        for (Map<String, Object> p : averages) {
            assertEquals(-1, Files.mismatch(deltas(Strategy.AVERAGE, p, true, "avg"), deltas(Strategy.AVERAGE, p, false, "avg")), p.toString());
        }
        Map<String, Object> ta = Map.of("lambda", 0.7, "clip_norm", 1.0, "clip_scope", "tensor");
        assertEquals(-1, Files.mismatch(deltas(Strategy.TASK_ARITHMETIC, ta, true, "ta"), deltas(Strategy.TASK_ARITHMETIC, ta, false, "ta")));
        List<Map<String, Object>> fisher = List.of(Map.of("fisher_floor", 1e-2),
                Map.of("normalize_fishers", true, "favor_base", true, "base_fisher_value", 0.3, "base_weight", 2.0));
        for (Map<String, Object> p : fisher) {
            Path a = deltas(Strategy.FISHER, p, true, "fisher");
            Path b = deltas(Strategy.FISHER, p, false, "fisher");
            assertEquals(-1, Files.mismatch(a, b), p.toString());
        }
        // And the comparison can fail: a different weight changes the bytes.
        Path avg = deltas(Strategy.AVERAGE, Map.of(), false, "avg");
        Path ta2 = deltas(Strategy.TASK_ARITHMETIC, Map.of("lambda", 1.0), false, "ta1");
        assertTrue(Files.mismatch(avg, ta2) >= 0);
    }
}
