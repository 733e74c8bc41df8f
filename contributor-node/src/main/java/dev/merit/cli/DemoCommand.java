package dev.merit.cli;

import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ObjectId;
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
import picocli.CommandLine.Option;

@Command(name = "demo", header = "Walk through Merit: version a model locally, then share it through a coordinator that merges contributors' updates.")
final class DemoCommand extends BaseCommand {

    @Option(names = "--dir", description = "Work here instead of a new temporary directory.")
    Path dir;

    @Option(names = "--params", description = "Parameters of the demo model (default ${DEFAULT-VALUE}).")
    long params = 4_000_000;

    @Option(names = "--local", description = "Only the local part (no coordinator).")
    boolean local;

    @Override
    int run() throws Exception {
        Path work = dir != null ? path(dir) : Files.createTempDirectory("merit-demo-");
        Files.createDirectories(work);
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
        if (!local) {
            rc |= sharedModel(work, base);
        }
        out().println(rc == 0 ? "demo finished: every step succeeded" : "demo finished with failures");
        return rc == 0 ? ExitCode.OK : ExitCode.FAILURE;
    }

    /**
     * The shared model: a coordinator ({@code merit serve} with embedded Kafka, batch policy,
     * Fisher-weighted merges), a maintainer who publishes the base, three contributors who push
     * sparse updates with their Fishers, and a fresh clone that pulls the merged version.
     */
    private int sharedModel(Path work, Path base) throws Exception {
        out().println();
        out().println("== A shared model: a coordinator merges three contributors' sparse updates ==");
        out().println("$ merit serve --data coordinator --policy batch --strategy fisher --batch-size 3 --http-port 0");
        int rc = 0;
        try (CoordinatorProcess coord = CoordinatorProcess.start(work, out(), "--data", "coordinator", "--policy", "batch",
                "--strategy", "fisher", "--batch-size", "3", "--batch-seconds", "300", "--kafka", "embedded", "--http-port", "0")) {
            String url = coord.url();
            String admin = coord.adminToken();
            out().println("coordinator on " + url + " (batch of 3, fisher); Kafka at " + coord.kafka().orElse("-")
                    + "; review page on http://127.0.0.1:" + coord.httpPort().orElse(-1) + "/ (metrics at /metrics)");
            rc |= step(work, "remote", "add", "origin", url, "--token", admin);
            rc |= step(work, "push", "origin", "main");
            try (RemoteClient c = RemoteClient.connect(url, admin)) {
                ObjectId published = c.branch("main").map(RemoteBranch::head).orElseThrow(
                        () -> new dev.merit.error.MeritException("the coordinator has no main after the push"));
                String[] names = {"alice", "bob", "carol"};
                for (int i = 0; i < names.length; i++) {
                    String token = capture(work, "token", "create", "--name", names[i], "--role", "contributor").trim();
                    rc |= step(work, "clone", url, names[i], "--token", token);
                    Path home = work.resolve(names[i]);
                    fineTune(base, home.resolve("tuned.safetensors"), 0.03, 100 + i);
                    writeFisher(base, home.resolve("fisher.safetensors"), 200 + i);
                    rc |= step(home, "key", "register");
                    rc |= step(home, "commit", "tuned.safetensors", "--density", "0.01", "--fisher", "fisher.safetensors",
                            "-m", "Fine-tune by " + names[i]);
                    rc |= step(home, "push", "--examples", Integer.toString(100 * (i + 1)));
                }
                ObjectId merged = awaitNewHead(c, published);
                out().println();
                out().println("the coordinator merged the batch into " + merged.abbreviate(12));
            }
            rc |= step(work, "clone", url, "fresh", "--token", admin);
            rc |= step(work.resolve("fresh"), "log", "--oneline");
            rc |= step(work.resolve("fresh"), "show", "HEAD");
            rc |= step(work.resolve("alice"), "pull");
            rc |= step(work, "proposals");
        }
        return rc;
    }

    private static ObjectId awaitNewHead(RemoteClient c, ObjectId old) throws InterruptedException {
        for (int i = 0; i < 600; i++) {
            var h = c.branch("main").map(RemoteBranch::head);
            if (h.isPresent() && !h.get().equals(old)) {
                return h.get();
            }
            Thread.sleep(100);
        }
        throw new dev.merit.error.MeritException("the coordinator did not merge the batch within a minute");
    }

    private String capture(Path work, String... args) {
        java.io.StringWriter buf = new java.io.StringWriter();
        int rc = Main.run(work, new java.io.PrintWriter(buf, true), err(), args);
        if (rc != 0) {
            throw new dev.merit.error.MeritException("merit " + String.join(" ", args) + " failed with exit code " + rc);
        }
        return buf.toString();
    }

    /** A positive diagonal Fisher with the model's names and shapes (what training would estimate). */
    private static void writeFisher(Path model, Path to, long seed) {
        try (SafetensorsFile in = SafetensorsFile.open(model)) {
            List<TensorInfo> layout = in.tensors().stream().map(t -> new TensorInfo(t.name(), DType.F32, t.shape())).toList();
            try (SafetensorsWriter w = SafetensorsWriter.create(to, layout, Map.of())) {
                IntStream.range(0, layout.size()).parallel().forEach(i -> {
                    TensorInfo t = layout.get(i);
                    SplittableRandom rnd = new SplittableRandom(seed * 1000 + i);
                    MemorySegment seg = w.segment(t.name());
                    for (long j = 0; j < t.numel(); j++) {
                        DType.F32.setFloat(seg, j, (float) (0.1 + rnd.nextDouble()));
                    }
                });
                w.finish();
            }
        }
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
