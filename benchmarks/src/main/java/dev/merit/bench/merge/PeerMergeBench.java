package dev.merit.bench.merge;

import dev.merit.merge.MergeResult;
import dev.merit.merge.recipe.MergeRunner;
import dev.merit.merge.recipe.Recipe;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.TensorInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Merit's recipe merge against PyTorch on the same files, in one run: a weighted average and a
 * Fisher merge of 8 models of 25M+ F32 parameters, plus the machine's memory-copy bandwidth.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -cp CLASSPATH dev.merit.bench.merge.PeerMergeBench \
 *     [dir=/tmp/merit-merge-bench] [models=8] [layers=24] [side=1024] [threads=2] [python=benchmarks/src/main/python/torch_merge.py]
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
        Files.createDirectories(dir);
        List<TensorInfo> layout = BenchFiles.layout(layers, side);
        long params = layout.stream().mapToLong(TensorInfo::numel).sum();
        System.out.printf(Locale.ROOT, "%d models x %.1fM F32 parameters, %d threads, dir %s%n", nModels, params / 1e6, threads, dir);

        List<Path> files = new ArrayList<>();
        StringBuilder avg = new StringBuilder("strategy: average\nmodels:\n");
        StringBuilder fisher = new StringBuilder("strategy: fisher\nparameters: {fisher_floor: 1.0e-6}\nmodels:\n");
        List<String> torchAvg = new ArrayList<>();
        List<String> torchFisher = new ArrayList<>();
        for (int i = 0; i < nModels; i++) {
            Path m = BenchFiles.randomF32(dir.resolve("m" + i + ".safetensors"), layout, i, 1f, 0f);
            Path f = BenchFiles.randomF32(dir.resolve("m" + i + ".fisher.safetensors"), layout, 100 + i, 0.5f, 0.5f);
            files.add(m);
            files.add(f);
            double w = 1 + i * 0.25;
            avg.append("  - {model: ").append(m.getFileName()).append(", weight: ").append(w).append("}\n");
            fisher.append("  - {model: ").append(m.getFileName()).append(", weight: ").append(w)
                    .append(", fisher: ").append(f.getFileName()).append("}\n");
            torchAvg.add(m + ":" + w);
            torchFisher.add(m + ":" + w + ":" + f);
        }
        long modelBytes = params * 4;
        BenchFiles.warm(files);

        double copy1 = BenchFiles.copyBandwidth(512L << 20, 1, 5);
        double copyN = BenchFiles.copyBandwidth(512L << 20, threads, 5);
        double copy = Math.max(copy1, copyN);
        System.out.printf(Locale.ROOT, "memory copy: %.2f GB/s copied (1 thread %.2f), i.e. %.2f GB/s of read+write traffic%n",
                copyN / 1e9, copy1 / 1e9, 2 * copy / 1e9);

        for (String mode : List.of("average", "fisher")) {
            Recipe recipe = Recipe.parse(mode.equals("average") ? avg.toString() : fisher.toString(), mode + ".yaml");
            Path meritOut = dir.resolve("merit-" + mode + ".safetensors");
            Path torchOut = dir.resolve("torch-" + mode + ".safetensors");
            long traffic = modelBytes * (nModels * (mode.equals("average") ? 1 : 2) + 1);
            double merit = Double.MAX_VALUE;
            double torch = Double.MAX_VALUE;
            for (int rep = 0; rep < 3; rep++) {
                Files.deleteIfExists(meritOut);
                long t0 = System.nanoTime();
                MergeResult r = MergeRunner.files(dir).output(meritOut).threads(threads).run(recipe);
                merit = Math.min(merit, (System.nanoTime() - t0) / 1e9);
                if (r.tensors() != layout.size()) {
                    throw new IllegalStateException("merged " + r.tensors() + " tensors");
                }
                List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", script, mode, torchOut.toString(), Integer.toString(threads)));
                cmd.addAll(mode.equals("average") ? torchAvg : torchFisher);
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                String outText = new String(p.getInputStream().readAllBytes()).trim();
                if (p.waitFor() != 0) {
                    throw new IllegalStateException("torch_merge.py failed: " + outText);
                }
                String last = outText.substring(outText.lastIndexOf('\n') + 1);
                torch = Math.min(torch, Double.parseDouble(last.replaceAll(".*\"seconds\":\\s*([0-9.eE+-]+).*", "$1")));
            }
            double maxDiff = maxAbsDiff(meritOut, torchOut);
            double bw = traffic / merit;
            System.out.printf(Locale.ROOT, "%-8s merit %.3f s  torch %.3f s  speed-up %.2fx  merit traffic %.2f GB/s = %.0f%% of copy bandwidth  max |merit - torch| %.2e%n",
                    mode, merit, torch, torch / merit, bw / 1e9, 100 * bw / (2 * copy), maxDiff);
        }
    }

    private static double maxAbsDiff(Path a, Path b) {
        double max = 0;
        try (SafetensorsFile x = SafetensorsFile.open(a); SafetensorsFile y = SafetensorsFile.open(b)) {
            for (TensorInfo t : x.tensors()) {
                for (long i = 0; i < t.numel(); i += 97) {
                    max = Math.max(max, Math.abs(t.dtype().getDouble(x.data(t.name()), i) - t.dtype().getDouble(y.data(t.name()), i)));
                }
            }
        }
        return max;
    }

    static String arg(String[] args, int i, String def) {
        return args.length > i ? args[i] : def;
    }
}
