package dev.merit.cli;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "demo", header = "See Merit work: contributor daemons improve one model together through a coordinator.",
        description = {
            "Starts a coordinator (merit serve: embedded Kafka, batch policy, Fisher-weighted merges), creates a small",
            "model and briefly trains it on a small IID part of Fashion-MNIST, then runs K contributor daemons (each a",
            "real merit daemon on its own clone and Dirichlet shard) for R rounds. Each round prints the merged model's",
            "test accuracy, each contributor's validation accuracy, and the bytes pushed against dense float32.",
            "--local instead walks through the local commands (init, commit, diff, checkout, fsck) on random tensors."})
final class DemoCommand extends BaseCommand {

    @Option(names = "--dir", description = "Work here instead of a new temporary directory.")
    Path dir;

    @Option(names = "--local", description = "Only the scripted walk-through of the local commands (no coordinator, no training).")
    boolean local;

    @Option(names = "--params", description = "--local: parameters of the random demo model (default ${DEFAULT-VALUE}).")
    long params = 4_000_000;

    @Option(names = {"-k", "--contributors"}, defaultValue = "4", description = "Contributor daemons (default ${DEFAULT-VALUE}).")
    int contributors;

    @Option(names = {"-r", "--rounds"}, defaultValue = "5", description = "Rounds (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--json", description = "Print the outcome as one JSON document (base and per-round accuracy, bytes).")
    boolean json;

    @Option(names = "--keep", description = "Leave the coordinator running when the demo ends.")
    boolean keep;

    @Mixin
    LearningDemo.Settings settings;

    @Override
    int run() throws Exception {
        Path work = dir != null ? path(dir) : Files.createTempDirectory("merit-demo-");
        Files.createDirectories(work);
        if (!local) {
            if (contributors < 1 || rounds < 1) {
                throw new dev.merit.error.InvalidInputException("--contributors and --rounds must be >= 1");
            }
            LearningDemo.Outcome o = new LearningDemo(work, contributors, rounds, settings, keep, json ? null : out(), err()).call();
            if (json) {
                printJson(o.toJson());
            }
            return o.ok() ? ExitCode.OK : ExitCode.FAILURE;
        }
        out().println("Merit demo in " + work);
        Path base = work.resolve("base.safetensors");
        Path tuned = work.resolve("finetuned.safetensors");
        Path tuned2 = work.resolve("finetuned-2.safetensors");
        writeModel(base, params, 1);
        fineTune(base, tuned, 0.02, 2);
        fineTune(tuned, tuned2, 0.02, 3);
        out().println("wrote a " + params + "-parameter base model and two fine-tuned versions of it");

        int rc = step(work, "init", "--from", "base.safetensors", "-m", "Base model");
        rc |= step(work, "status", "finetuned.safetensors");
        rc |= step(work, "commit", "finetuned.safetensors", "-m", "Fine-tune, lossless");
        rc |= step(work, "tag", "v1");
        rc |= step(work, "commit", "finetuned-2.safetensors", "--density", "0.005", "-m", "Fine-tune, top 0.5% of the change");
        rc |= step(work, "log", "--oneline");
        rc |= step(work, "show", "HEAD");
        rc |= step(work, "diff", "v1", "HEAD");
        rc |= step(work, "checkout", "v1", "-o", "v1.safetensors");
        rc |= step(work, "diff", "v1", "finetuned.safetensors");
        rc |= step(work, "fsck");
        out().println(rc == 0 ? "demo finished: every step succeeded" : "demo finished with failures");
        return rc == 0 ? ExitCode.OK : ExitCode.FAILURE;
    }

    private int step(Path work, String... args) {
        out().println();
        out().println("$ merit " + String.join(" ", args));
        out().flush();
        String[] full = new String[args.length + (root.quiet ? 1 : 0)];
        System.arraycopy(args, 0, full, 0, args.length);
        if (root.quiet) {
            full[args.length] = "-q";
        }
        int rc = Main.run(work, out(), err(), full);
        out().flush();
        return rc;
    }

    /** A transformer-shaped stack of F32 and BF16 tensors with N(0, 0.02) weights. */
    private static void writeModel(Path path, long params, long seed) {
        long width = Math.max(8, (long) Math.sqrt(params / 10.0)); // the layout below has about 10 x width^2 entries
        List<TensorInfo> layout = List.of(
                TensorInfo.of("embed.weight", DType.F32, 2 * width, width),
                TensorInfo.of("layers.0.attn.weight", DType.F32, width, 2 * width),
                TensorInfo.of("layers.0.mlp.weight", DType.BF16, 2 * width, width),
                TensorInfo.of("layers.1.attn.weight", DType.F32, width, 2 * width),
                TensorInfo.of("layers.1.mlp.weight", DType.BF16, 2 * width, width),
                TensorInfo.of("norm.bias", DType.F32, width));
        try (SafetensorsWriter w = SafetensorsWriter.create(path, layout, Map.of("source", "merit demo"))) {
            IntStream.range(0, layout.size()).parallel().forEach(i -> {
                TensorInfo t = layout.get(i);
                SplittableRandom rnd = new SplittableRandom(seed * 1000 + i);
                MemorySegment seg = w.segment(t.name());
                for (long j = 0; j < t.numel(); j++) {
                    t.dtype().setFloat(seg, j, (float) (0.02 * gaussian(rnd)));
                }
            });
            w.finish();
        }
    }

    /** Changes a random {@code fraction} of entries by small amounts, as a short fine-tune would. */
    private static void fineTune(Path from, Path to, double fraction, long seed) {
        try (SafetensorsFile in = SafetensorsFile.open(from);
             SafetensorsWriter w = SafetensorsWriter.create(to, in.tensors(), in.metadata())) {
            List<TensorInfo> ts = in.tensors();
            IntStream.range(0, ts.size()).parallel().forEach(i -> {
                TensorInfo t = ts.get(i);
                MemorySegment out = w.segment(t.name());
                MemorySegment.copy(in.data(t.name()), 0, out, 0, t.byteSize());
                SplittableRandom rnd = new SplittableRandom(seed * 1000 + i);
                for (long j = 0; j < t.numel(); j++) {
                    if (rnd.nextDouble() < fraction) {
                        t.dtype().setFloat(out, j, t.dtype().getFloat(out, j) + (float) (0.002 * gaussian(rnd)));
                    }
                }
            });
            w.finish();
        }
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble();
        double v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }
}
