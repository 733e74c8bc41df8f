package dev.merit.bench.merge;

import dev.merit.cli.Main;
import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.MergeResult;
import dev.merit.merge.MergeSink;
import dev.merit.merge.Merger;
import dev.merit.merge.Strategy;
import dev.merit.merge.recipe.MergeRunner;
import dev.merit.merge.recipe.Recipe;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.DoubleSupplier;

/**
 * Merit's recipe merge against PyTorch on the same files, in one run: a weighted average and a
 * Fisher merge of 8 models of 25M+ F32 parameters, plus the machine's memory-copy bandwidth.
 *
 * <p>Each side is timed as a whole run (open and parse the files, merge, write the output under a
 * temporary name, fsync, rename) and, separately, for the merge alone into memory. Merit's whole
 * run is timed through {@code MergeRunner} (what {@code merit merge --recipe} calls) and through the
 * CLI in-process ({@code Main.run}). Every figure is the best of {@code reps} runs after one warm-up.
 *
 * <pre>
 * benchmarks/run merge.PeerMergeBench [dir=/tmp/merit-merge-bench] [models=8] [layers=24] [side=1024] [threads=2]
 *     [python=benchmarks/src/main/python/torch_merge.py] [reps=15]
 * </pre>
 */
public final class PeerMergeBench {

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(arg(args, 0, "/tmp/merit-merge-bench"));
        int nModels = Integer.parseInt(arg(args, 1, "8"));
        int layers = Integer.parseInt(arg(args, 2, "24"));
        int side = Integer.parseInt(arg(args, 3, "1024"));
        int threads = Integer.parseInt(arg(args, 4, "2"));
        String script = arg(args, 5, "benchmarks/src/main/python/torch_merge.py");
        int reps = Integer.parseInt(arg(args, 6, "15"));
        Files.createDirectories(dir);
        List<TensorInfo> layout = BenchFiles.layout(layers, side);
        long params = layout.stream().mapToLong(TensorInfo::numel).sum();
        System.out.printf(Locale.ROOT, "%d models x %.1fM F32 parameters, %d threads, best of %d runs, dir %s%n",
                nModels, params / 1e6, threads, reps, dir);

        List<Path> files = new ArrayList<>();
        List<Path> models = new ArrayList<>();
        List<Path> fishers = new ArrayList<>();
        List<Double> weights = new ArrayList<>();
        StringBuilder avg = new StringBuilder("strategy: average\nmodels:\n");
        StringBuilder fisher = new StringBuilder("strategy: fisher\nparameters: {fisher_floor: 1.0e-6}\nmodels:\n");
        for (int i = 0; i < nModels; i++) {
            Path m = BenchFiles.randomF32(dir.resolve("m" + i + ".safetensors"), layout, i, 1f, 0f);
            Path f = BenchFiles.randomF32(dir.resolve("m" + i + ".fisher.safetensors"), layout, 100 + i, 0.5f, 0.5f);
            files.add(m);
            files.add(f);
            models.add(m);
            fishers.add(f);
            double w = 1 + i * 0.25;
            weights.add(w);
            avg.append("  - {model: ").append(m.getFileName()).append(", weight: ").append(w).append("}\n");
            fisher.append("  - {model: ").append(m.getFileName()).append(", weight: ").append(w)
                    .append(", fisher: ").append(f.getFileName()).append("}\n");
        }
        long modelBytes = params * 4;
        BenchFiles.warm(files);

        double copy1 = BenchFiles.copyBandwidth(512L << 20, 1, 5);
        double copyN = BenchFiles.copyBandwidth(512L << 20, threads, 5);
        double copy = Math.max(copy1, copyN);
        System.out.printf(Locale.ROOT, "memory copy: %.2f GB/s copied (1 thread %.2f), i.e. %.2f GB/s of read+write traffic%n",
                copyN / 1e9, copy1 / 1e9, 2 * copy / 1e9);

        try (Arena arena = Arena.ofShared()) {
            // The compute-only runs merge into memory allocated and touched once, outside the timings.
            MemorySegment memory = arena.allocate(modelBytes, 64);
            memory.fill((byte) 0);
            Map<String, Long> offsets = new HashMap<>();
            long off = 0;
            for (TensorInfo t : layout) {
                offsets.put(t.name(), off);
                off += t.byteSize();
            }
            MergeSink sink = info -> memory.asSlice(offsets.get(info.name()), info.byteSize());

            for (String mode : List.of("average", "fisher")) {
                boolean isFisher = mode.equals("fisher");
                String recipeText = isFisher ? fisher.toString() : avg.toString();
                Recipe recipe = Recipe.parse(recipeText, mode + ".yaml");
                Path recipeFile = Files.writeString(dir.resolve(mode + ".yaml"), recipeText);
                Path meritOut = dir.resolve("merit-" + mode + ".safetensors");
                Path cliOut = dir.resolve("cli-" + mode + ".safetensors");
                Path torchOut = dir.resolve("torch-" + mode + ".safetensors");
                long traffic = modelBytes * (nModels * (isFisher ? 2 : 1) + 1);

                double runner = best(reps, () -> {
                    delete(meritOut);
                    long t0 = System.nanoTime();
                    MergeResult r = MergeRunner.files(dir).output(meritOut).threads(threads).run(recipe);
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (r.tensors() != layout.size()) {
                        throw new IllegalStateException("merged " + r.tensors() + " tensors");
                    }
                    return s;
                });
                double cli = best(reps, () -> {
                    StringWriter out = new StringWriter();
                    StringWriter err = new StringWriter();
                    delete(cliOut);
                    long t0 = System.nanoTime();
                    int code = Main.run(dir, new PrintWriter(out), new PrintWriter(err), "merge", "--recipe",
                            recipeFile.toString(), "-o", cliOut.toString(), "--json");
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (code != 0) {
                        throw new IllegalStateException("merit merge exited " + code + ": " + err);
                    }
                    return s;
                });
                double compute = best(reps, () -> computeOnly(models, isFisher ? fishers : null, weights, threads, sink));
                double[] torch = torch(script, mode, torchOut, threads, reps + 1, models, isFisher ? fishers : null, weights);

                String same = sameData(cliOut, memory) && sameData(meritOut, memory) ? "identical" : "DIFFERENT";
                double maxDiff = maxAbsDiff(meritOut, torchOut);
                System.out.printf(Locale.ROOT, "%s: Merit outputs (MergeRunner, CLI, in-memory) %s; max |merit - torch| %.2e%n",
                        mode, same, maxDiff);
                row(mode + " whole run (MergeRunner)", runner, torch[0], traffic, copy);
                row(mode + " whole run (merit merge CLI)", cli, torch[0], traffic, copy);
                row(mode + " merge only, into memory", compute, torch[1], traffic, copy);
                System.out.printf(Locale.ROOT, "  torch phases (best of each): open %.3f s, compute %.3f s, write %.3f s, fsync %.3f s, "
                        + "unmap %.3f s; whole run without fsync %.3f s%n", torch[2], torch[1], torch[3], torch[4], torch[6], torch[5]);
            }
        }
    }

    private static void row(String what, double merit, double torch, long traffic, double copy) {
        double bw = traffic / merit;
        System.out.printf(Locale.ROOT, "  %-36s merit %.3f s  torch %.3f s  speed-up %.2fx  merit %.2f GB/s = %.0f%% of copy bandwidth%n",
                what, merit, torch, torch / merit, bw / 1e9, 100 * bw / (2 * copy));
    }

    private static double best(int reps, DoubleSupplier run) {
        run.getAsDouble(); // warm-up: class loading and JIT
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            best = Math.min(best, run.getAsDouble());
        }
        return best;
    }

    /** The merge alone: files opened (mapped, headers parsed) before the clock starts, output into memory. */
    private static double computeOnly(List<Path> models, List<Path> fishers, List<Double> weights, int threads, MergeSink sink) {
        List<TensorSource> open = new ArrayList<>();
        try {
            Merger.Builder b = Merger.builder().threads(threads)
                    .strategy(fishers != null ? Strategy.FISHER : Strategy.AVERAGE)
                    .parameters(MergeParameters.defaults().with(Map.of("fisher_floor", 1e-6)));
            for (int i = 0; i < models.size(); i++) {
                SafetensorsFile m = SafetensorsFile.open(models.get(i));
                open.add(m);
                MergeInput in = MergeInput.model(models.get(i).getFileName().toString(), m).withWeight(weights.get(i));
                if (fishers != null) {
                    SafetensorsFile f = SafetensorsFile.open(fishers.get(i));
                    open.add(f);
                    in = in.withFisher(f);
                }
                b.input(in);
            }
            Merger merger = b.build();
            long t0 = System.nanoTime();
            merger.mergeTo(sink);
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            open.forEach(TensorSource::close);
        }
    }

    /** Runs torch_merge.py; returns the best whole run, compute, open, write, fsync, whole run minus fsync, and unmap seconds. */
    private static double[] torch(String script, String mode, Path out, int threads, int runs, List<Path> models,
                                  List<Path> fishers, List<Double> weights) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", script, mode, out.toString(),
                Integer.toString(threads), Integer.toString(runs), "1"));
        for (int i = 0; i < models.size(); i++) {
            cmd.add(models.get(i) + ":" + weights.get(i) + (fishers != null ? ":" + fishers.get(i) : ""));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String text = new String(p.getInputStream().readAllBytes()).trim();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("torch_merge.py failed: " + text);
        }
        double[] best = new double[7];
        java.util.Arrays.fill(best, Double.MAX_VALUE);
        String[] keys = {"seconds", "compute", "open", "write", "fsync", "", "close"};
        List<String> lines = text.lines().filter(l -> l.startsWith("{")).toList();
        for (String line : lines.subList(1, lines.size())) { // the first run is the warm-up
            double[] v = new double[keys.length];
            for (int k = 0; k < keys.length; k++) {
                if (keys[k].isEmpty()) {
                    continue;
                }
                v[k] = Double.parseDouble(line.replaceAll(".*\"" + keys[k] + "\":\\s*([0-9.eE+-]+).*", "$1"));
                best[k] = Math.min(best[k], v[k]);
            }
            best[5] = Math.min(best[5], v[0] - v[4]);
        }
        return best;
    }

    /** True if the tensor bytes of safetensors file {@code a} equal {@code memory} (the metadata names the recipe, so headers differ). */
    private static boolean sameData(Path a, MemorySegment memory) {
        try (SafetensorsFile x = SafetensorsFile.open(a)) {
            long off = 0;
            for (TensorInfo t : x.tensors()) {
                MemorySegment d = x.data(t.name());
                if (MemorySegment.mismatch(d, 0, d.byteSize(), memory, off, off + d.byteSize()) != -1) {
                    return false;
                }
                off += d.byteSize();
            }
            return true;
        }
    }

    /** Largest |a - b| over every element of every tensor. */
    private static double maxAbsDiff(Path a, Path b) {
        double max = 0;
        try (SafetensorsFile x = SafetensorsFile.open(a); SafetensorsFile y = SafetensorsFile.open(b)) {
            for (TensorInfo t : x.tensors()) {
                MemorySegment p = x.data(t.name());
                MemorySegment q = y.data(t.name());
                for (long i = 0; i < t.numel(); i++) {
                    max = Math.max(max, Math.abs(t.dtype().getDouble(p, i) - t.dtype().getDouble(q, i)));
                }
            }
        }
        return max;
    }

    /** Each side writes a new file each run (replacing one would add freeing its blocks to the run). */
    private static void delete(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static String arg(String[] args, int i, String def) {
        return args.length > i ? args[i] : def;
    }
}
