package dev.merit.bench.merge;

import dev.merit.merge.MergeResult;
import dev.merit.merge.recipe.MergeRunner;
import dev.merit.merge.recipe.Recipe;
import dev.merit.tensor.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Merges two models whose total size is many times the Java heap (run with {@code -Xmx512m};
 * defaults to two 3 GiB files) and reports peak RSS and peak anonymous memory, sampled from
 * /proc/self/status while the merge runs.
 *
 * <pre>
 * java -Xmx512m --enable-native-access=ALL-UNNAMED -cp CLASSPATH dev.merit.bench.merge.LargeMergeBench \
 *     [dir=/tmp/merit-large-merge] [gib-per-model=3] [threads=2]
 * </pre>
 */
public final class LargeMergeBench {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(PeerMergeBench.arg(args, 0, "/tmp/merit-large-merge"));
        double gib = Double.parseDouble(PeerMergeBench.arg(args, 1, "3"));
        int threads = Integer.parseInt(PeerMergeBench.arg(args, 2, "2"));
        Files.createDirectories(dir);
        int side = 8192; // 256 MiB per F32 matrix: far larger than a block, and than a tenth of the heap
        int layers = (int) Math.ceil(gib * (1L << 30) / (4L * side * side));
        List<TensorInfo> layout = BenchFiles.layout(layers, side);
        long bytes = layout.stream().mapToLong(TensorInfo::byteSize).sum();
        Path a = BenchFiles.randomF32(dir.resolve("a.safetensors"), layout, 1, 1f, 0f);
        Path b = BenchFiles.randomF32(dir.resolve("b.safetensors"), layout, 2, 1f, 0f);
        long heap = Runtime.getRuntime().maxMemory();
        System.out.printf(Locale.ROOT, "inputs: 2 x %.2f GiB = %.1fx the %d MiB heap; largest tensor %d MiB%n",
                bytes / (double) (1L << 30), 2.0 * bytes / heap, heap >> 20, 4L * side * side >> 20);
        BenchFiles.warm(List.of(a, b));
        long anonBefore = BenchFiles.statusKb("RssAnon");

        AtomicLong peakAnon = new AtomicLong();
        AtomicLong peakRss = new AtomicLong();
        Thread sampler = Thread.ofPlatform().daemon().start(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                peakAnon.accumulateAndGet(BenchFiles.statusKb("RssAnon"), Math::max);
                peakRss.accumulateAndGet(BenchFiles.statusKb("VmRSS"), Math::max);
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        Recipe recipe = Recipe.parse("""
                strategy: average
                models:
                  - {model: a.safetensors, weight: 1.0}
                  - {model: b.safetensors, weight: 3.0}
                output: merged.safetensors
                """, "large.yaml");
        long t0 = System.nanoTime();
        MergeResult r = MergeRunner.files(dir).threads(threads).run(recipe);
        double secs = (System.nanoTime() - t0) / 1e9;
        sampler.interrupt();
        sampler.join();
        System.out.printf(Locale.ROOT, "merged %d tensors, %.2f GiB out in %.2f s (%.2f GB/s of read+write traffic)%n",
                r.tensors(), r.bytes() / (double) (1L << 30), secs, 3.0 * bytes / secs / 1e9);
        System.out.printf(Locale.ROOT, "RssAnon before merge %d MiB, peak during merge %d MiB; peak VmRSS %d MiB (file pages included); VmHWM %d MiB%n",
                anonBefore >> 10, peakAnon.get() >> 10, peakRss.get() >> 10, BenchFiles.statusKb("VmHWM") >> 10);
        Files.deleteIfExists(dir.resolve("merged.safetensors"));
    }
}
