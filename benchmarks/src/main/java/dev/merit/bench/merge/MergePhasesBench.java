package dev.merit.bench.merge;

import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.Merger;
import dev.merit.merge.Strategy;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where a merge's whole run goes, on {@link PeerMergeBench}'s files: opening the inputs, the merge
 * into memory on fresh mappings (page faults included) and again on mappings already faulted in,
 * the merge into a file (positional writes, fsync, rename), and unmapping. Best of {@code reps}.
 *
 * <pre>
 * benchmarks/run merge.MergePhasesBench [dir=/tmp/merit-merge-bench] [average|fisher] [models=8] [threads=2] [reps=10]
 * </pre>
 */
public final class MergePhasesBench {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(PeerMergeBench.arg(args, 0, "/tmp/merit-merge-bench"));
        boolean fisher = PeerMergeBench.arg(args, 1, "average").equals("fisher");
        int nModels = Integer.parseInt(PeerMergeBench.arg(args, 2, "8"));
        int threads = Integer.parseInt(PeerMergeBench.arg(args, 3, "2"));
        int reps = Integer.parseInt(PeerMergeBench.arg(args, 4, "10"));
        List<TensorInfo> layout = BenchFiles.layout(24, 1024);
        List<Path> files = new ArrayList<>();
        for (int i = 0; i < nModels; i++) {
            files.add(BenchFiles.randomF32(dir.resolve("m" + i + ".safetensors"), layout, i, 1f, 0f));
            files.add(BenchFiles.randomF32(dir.resolve("m" + i + ".fisher.safetensors"), layout, 100 + i, 0.5f, 0.5f));
        }
        BenchFiles.warm(files);
        String[] names = {"open", "merge to memory, fresh maps", "merge to memory, faulted", "merge to file, faulted", "unmap"};
        double[] best = new double[names.length];
        Arrays.fill(best, Double.MAX_VALUE);
        Path out = dir.resolve("phases.safetensors");
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(layout.stream().mapToLong(TensorInfo::byteSize).sum(), 64);
            memory.fill((byte) 0);
            Map<String, Long> offsets = new HashMap<>();
            long off = 0;
            for (TensorInfo t : layout) {
                offsets.put(t.name(), off);
                off += t.byteSize();
            }
            for (int r = 0; r <= reps; r++) {
                Files.deleteIfExists(out);
                long t0 = System.nanoTime();
                List<TensorSource> open = new ArrayList<>();
                Merger.Builder b = Merger.builder().threads(threads).strategy(fisher ? Strategy.FISHER : Strategy.AVERAGE)
                        .parameters(MergeParameters.defaults().with(Map.of("fisher_floor", 1e-6)));
                for (int i = 0; i < nModels; i++) {
                    SafetensorsFile m = SafetensorsFile.open(files.get(2 * i));
                    open.add(m);
                    MergeInput in = MergeInput.model("m" + i, m).withWeight(1 + 0.25 * i);
                    if (fisher) {
                        SafetensorsFile f = SafetensorsFile.open(files.get(2 * i + 1));
                        open.add(f);
                        in = in.withFisher(f);
                    }
                    b.input(in);
                }
                Merger merger = b.build();
                long t1 = System.nanoTime();
                merger.mergeTo(info -> memory.asSlice(offsets.get(info.name()), info.byteSize()));
                long t2 = System.nanoTime();
                merger.mergeTo(info -> memory.asSlice(offsets.get(info.name()), info.byteSize()));
                long t3 = System.nanoTime();
                merger.mergeTo(out);
                long t4 = System.nanoTime();
                open.forEach(TensorSource::close);
                long t5 = System.nanoTime();
                long[] t = {t0, t1, t2, t3, t4, t5};
                for (int k = 0; r > 0 && k < names.length; k++) { // run 0 warms up
                    best[k] = Math.min(best[k], (t[k + 1] - t[k]) / 1e9);
                }
            }
        }
        Files.deleteIfExists(out);
        System.out.printf(Locale.ROOT, "%s, %d models, %d threads, best of %d:%n", fisher ? "fisher" : "average", nModels, threads, reps);
        for (int k = 0; k < names.length; k++) {
            System.out.printf(Locale.ROOT, "  %-30s %.4f s%n", names[k], best[k]);
        }
    }
}
