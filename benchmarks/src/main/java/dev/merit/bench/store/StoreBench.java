package dev.merit.bench.store;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.CommitResult;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * Commit and checkout throughput of the store on a 1 GB checkpoint, and the bytes each version
 * adds at 0.1%, 1% and 10% changed entries against the dense size (what Git LFS stores per
 * version of a file it tracks). Also times a plain file copy of the checkpoint in the same run.
 *
 * <pre>benchmarks/run store.StoreBench [dir=/tmp/merit-store-bench] [gb=1]</pre>
 */
public final class StoreBench {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args.length > 0 ? args[0] : "/tmp/merit-store-bench");
        double gb = args.length > 1 ? Double.parseDouble(args[1]) : 1.0;
        deleteTree(dir);
        Files.createDirectories(dir);
        int tensors = 16;
        long perTensor = (long) (gb * 1e9 / 4 / tensors);
        List<TensorInfo> layout = new ArrayList<>();
        for (int i = 0; i < tensors; i++) {
            layout.add(TensorInfo.of("layers." + i + ".weight", DType.F32, perTensor / 1000, 1000));
        }
        long dense = layout.stream().mapToLong(TensorInfo::byteSize).sum();
        Path base = dir.resolve("base.safetensors");
        write(base, layout, 1, null, 0);
        System.out.printf(Locale.ROOT, "checkpoint: %d tensors, %.3f GB (F32)%n", tensors, dense / 1e9);

        long t0 = System.nanoTime();
        Files.copy(base, dir.resolve("copy.safetensors"), StandardCopyOption.REPLACE_EXISTING);
        double copySec = (System.nanoTime() - t0) / 1e9;
        Files.delete(dir.resolve("copy.safetensors"));
        System.out.printf(Locale.ROOT, "file copy (cp, same disk):           %6.2f GB/s%n", dense / 1e9 / copySec);

        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            double commitSec = time(() -> commit(repo, base, "base"));
            System.out.printf(Locale.ROOT, "commit, first version (keyframe):     %6.2f GB/s  (%.2f s)%n", dense / 1e9 / commitSec, commitSec);
            double checkoutSec = time(() -> repo.checkout(repo.resolve("HEAD"), dir.resolve("out.safetensors"), ProgressListener.NONE));
            System.out.printf(Locale.ROOT, "checkout, keyframe:                   %6.2f GB/s  (%.2f s)%n", dense / 1e9 / checkoutSec, checkoutSec);
            repo.createTag("base", repo.resolve("HEAD"));

            System.out.println();
            System.out.println("| changed entries | stored per version | vs dense (Git LFS: 100%) | commit GB/s | checkout GB/s |");
            System.out.println("|---|---|---|---|---|");
            for (double fraction : new double[] {0.001, 0.01, 0.10}) {
                Path v = dir.resolve("v-" + fraction + ".safetensors");
                write(v, layout, 1, base, fraction);
                String branch = "f" + (int) (fraction * 1000);
                repo.createBranch(branch, repo.resolve("base"));
                repo.switchBranch(branch);
                CommitResult[] r = new CommitResult[1];
                // The parent version is materialized in the cache first, so this times the commit itself.
                repo.openVersion(repo.resolve("base")).close();
                double cs = time(() -> r[0] = commit(repo, v, "changed " + fraction));
                long added = r[0].commit().storedBytes() + repo.objectSize(r[0].id());
                // Best of two: the first checkout of a delta version also warms up the decoder.
                double co = Math.min(
                        time(() -> repo.checkout(r[0].id(), dir.resolve("out.safetensors"), ProgressListener.NONE)),
                        time(() -> repo.checkout(r[0].id(), dir.resolve("out.safetensors"), ProgressListener.NONE)));
                System.out.printf(Locale.ROOT, "| %.1f%% | %.1f MB | %.2f%% | %.2f | %.2f |%n", fraction * 100, added / 1e6,
                        100.0 * added / dense, dense / 1e9 / cs, dense / 1e9 / co);
                Files.delete(v);
            }
        }
        deleteTree(dir);
    }

    private static CommitResult commit(Repository repo, Path file, String msg) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            return repo.commit().setSource(f).setMessage(msg).call();
        }
    }

    /** Writes random N(0, 0.02) weights, or a copy of {@code from} with {@code fraction} of entries changed. */
    private static void write(Path path, List<TensorInfo> layout, long seed, Path from, double fraction) throws IOException {
        try (SafetensorsFile src = from == null ? null : SafetensorsFile.open(from);
             SafetensorsWriter w = SafetensorsWriter.create(path, layout, Map.of())) {
            IntStream.range(0, layout.size()).parallel().forEach(i -> {
                TensorInfo t = layout.get(i);
                MemorySegment seg = w.segment(t.name());
                SplittableRandom rnd = new SplittableRandom(seed * 7919 + i + (from == null ? 0 : 1_000_003));
                if (src == null) {
                    for (long j = 0; j < t.numel(); j++) {
                        seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, j, (float) (0.02 * (rnd.nextDouble() - 0.5)));
                    }
                } else {
                    MemorySegment.copy(src.data(t.name()), 0, seg, 0, t.byteSize());
                    long n = t.numel();
                    long k = Math.round(n * fraction);
                    for (long c = 0; c < k; c++) {
                        long j = rnd.nextLong(n);
                        float v = seg.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, j);
                        seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, j, v + 1e-3f);
                    }
                }
            });
            w.finish();
        }
    }

    interface Body {
        void run() throws Exception;
    }

    private static double time(Body b) throws Exception {
        long t0 = System.nanoTime();
        b.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
