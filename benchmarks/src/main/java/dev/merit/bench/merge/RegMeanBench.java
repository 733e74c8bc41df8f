package dev.merit.bench.merge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.merit.merge.GramMatrix;
import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.MergeSink;
import dev.merit.merge.Merger;
import dev.merit.merge.Strategy;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * RegMean against numpy ({@code benchmarks/src/main/python/regmean_numpy.py} on {@code /usr/bin/python3}):
 * {@code models} MLPs with layer sizes {@code dims} (e.g. 784-512-128-10), each with packed F32
 * Gram matrices of its layers' inputs over 256 random examples; the same merge on both sides,
 * best of {@code reps}: the whole run (open, merge, write, fsync, rename) and the compute alone
 * (Merit: into memory through {@code MergeSink}). Reports both ratios and the largest difference.
 *
 * <pre>
 * benchmarks/run merge.RegMeanBench [dir=/tmp/merit-regmean-bench] [dims=784-512-128-10] [models=4] [threads=2] [reps=5]
 * </pre>
 */
public final class RegMeanBench {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(PeerMergeBench.arg(args, 0, "/tmp/merit-regmean-bench"));
        String dims = PeerMergeBench.arg(args, 1, "784-512-128-10");
        int nModels = Integer.parseInt(PeerMergeBench.arg(args, 2, "4"));
        int threads = Integer.parseInt(PeerMergeBench.arg(args, 3, "2"));
        int reps = Integer.parseInt(PeerMergeBench.arg(args, 4, "5"));
        Files.createDirectories(dir);
        String[] d = dims.split("-");
        List<TensorInfo> layout = new ArrayList<>();
        for (int l = 0; l + 1 < d.length; l++) {
            layout.add(TensorInfo.of(l + ".weight", DType.F32, Integer.parseInt(d[l + 1]), Integer.parseInt(d[l])));
            layout.add(TensorInfo.of(l + ".bias", DType.F32, Integer.parseInt(d[l + 1])));
        }
        List<Path> models = new ArrayList<>();
        List<Path> grams = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        for (int i = 0; i < nModels; i++) {
            models.add(BenchFiles.randomF32(dir.resolve(dims + "-m" + i + ".safetensors"), layout, i, 0.05f, 0f));
            grams.add(gram(dir.resolve(dims + "-g" + i + ".safetensors"), layout, 500 + i));
            weights.add(1.0 + 0.25 * i);
        }
        List<Path> all = new ArrayList<>(models);
        all.addAll(grams);
        BenchFiles.warm(all);

        Path out = dir.resolve("merit-out.safetensors");
        double whole = Double.MAX_VALUE;
        double compute = Double.MAX_VALUE;
        long bytes = layout.stream().mapToLong(TensorInfo::byteSize).sum();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(bytes, 64);
            memory.fill((byte) 0);
            Map<String, Long> offsets = new HashMap<>();
            long off = 0;
            for (TensorInfo t : layout) {
                offsets.put(t.name(), off);
                off += t.byteSize();
            }
            MergeSink sink = info -> memory.asSlice(offsets.get(info.name()), info.byteSize());
            for (int r = 0; r <= reps; r++) {
                long t0 = System.nanoTime();
                List<TensorSource> open = new ArrayList<>();
                Merger.Builder b = Merger.builder().threads(threads).strategy(Strategy.REGMEAN)
                        .parameters(MergeParameters.defaults().with(Map.of("alpha", 0.9)));
                for (int i = 0; i < nModels; i++) {
                    SafetensorsFile m = SafetensorsFile.open(models.get(i));
                    SafetensorsFile g = SafetensorsFile.open(grams.get(i));
                    open.add(m);
                    open.add(g);
                    b.input(MergeInput.model("m" + i, m).withWeight(weights.get(i)).withGram(g));
                }
                Merger merger = b.build();
                merger.mergeTo(out);
                long t1 = System.nanoTime();
                merger.mergeTo(sink);
                long t2 = System.nanoTime();
                open.forEach(TensorSource::close);
                long t3 = System.nanoTime();
                whole = Math.min(whole, (t1 - t0 + t3 - t2) / 1e9);
                compute = Math.min(compute, (t2 - t1) / 1e9);
            }
        }

        Path numpyOut = dir.resolve("numpy-out.safetensors");
        Path spec = dir.resolve("regmean-spec.json");
        ObjectMapper json = new ObjectMapper();
        json.writeValue(spec.toFile(), Map.of("models", models.stream().map(Path::toString).toList(),
                "grams", grams.stream().map(Path::toString).toList(), "weights", weights, "alpha", 0.9,
                "out", numpyOut.toString(), "reps", reps));
        String script = PeerMergeBench.arg(args, 5, "benchmarks/src/main/python/regmean_numpy.py");
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", script, spec.toString()).redirectErrorStream(true);
        pb.environment().put("OMP_NUM_THREADS", Integer.toString(threads));
        pb.environment().put("OPENBLAS_NUM_THREADS", Integer.toString(threads));
        Process p = pb.start();
        String log = new String(p.getInputStream().readAllBytes());
        if (p.waitFor() != 0) {
            throw new IllegalStateException("numpy failed: " + log);
        }
        JsonNode np = json.readTree(log.lines().reduce((a, b) -> b).orElseThrow());
        double diff = 0;
        try (SafetensorsFile a = SafetensorsFile.open(out); SafetensorsFile b = SafetensorsFile.open(numpyOut)) {
            for (TensorInfo t : layout) {
                for (long i = 0; i < t.numel(); i++) {
                    diff = Math.max(diff, Math.abs(DType.F32.getDouble(a.data(t.name()), i) - DType.F32.getDouble(b.data(t.name()), i)));
                }
            }
        }
        long params = layout.stream().mapToLong(TensorInfo::numel).sum();
        System.out.printf(Locale.ROOT, "regmean, %d models of %s (%,d parameters), %d threads, best of %d%n", nModels, dims, params, threads, reps);
        System.out.printf(Locale.ROOT, "  whole run: Merit %.3f s, numpy %.3f s, ratio (numpy / Merit) %.2fx%n", whole,
                np.get("whole").asDouble(), np.get("whole").asDouble() / whole);
        System.out.printf(Locale.ROOT, "  compute:   Merit %.3f s, numpy %.3f s, ratio %.2fx%n", compute,
                np.get("compute").asDouble(), np.get("compute").asDouble() / compute);
        System.out.printf(Locale.ROOT, "  largest |Merit - numpy|: %.2e%n", diff);
    }

    /** Packed F32 Gram matrices G = X^T X / N of N = 256 random examples per layer (inputs >= 0, like ReLU outputs). */
    private static Path gram(Path path, List<TensorInfo> layout, long seed) {
        if (Files.exists(path)) {
            return path;
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        List<TensorInfo> gl = new ArrayList<>();
        for (TensorInfo t : layout) {
            if (t.shape().length == 2) {
                gl.add(TensorInfo.of(t.name(), DType.F32, GramMatrix.packedSize(t.shape()[1])));
            }
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(path, gl, Map.of(GramMatrix.FORMAT_KEY, GramMatrix.PACKED_UPPER,
                GramMatrix.EXAMPLES_KEY, "256"))) {
            for (TensorInfo t : gl) {
                int in = (int) Math.round((Math.sqrt(8.0 * t.numel() + 1) - 1) / 2);
                int rows = 256;
                float[][] x = new float[rows][in];
                for (float[] row : x) {
                    for (int k = 0; k < in; k++) {
                        row[k] = (float) Math.max(0, rnd.nextGaussian());
                    }
                }
                MemorySegment s = w.segment(t.name());
                long q = 0;
                double[] acc = new double[in];
                for (int r = 0; r < in; r++) {
                    java.util.Arrays.fill(acc, r, in, 0);
                    for (float[] row : x) {
                        double xr = row[r];
                        if (xr == 0) {
                            continue;
                        }
                        for (int c = r; c < in; c++) {
                            acc[c] += xr * row[c];
                        }
                    }
                    for (int c = r; c < in; c++) {
                        DType.F32.setDouble(s, q++, acc[c] / rows);
                    }
                }
            }
            w.finish();
        }
        return path;
    }
}
