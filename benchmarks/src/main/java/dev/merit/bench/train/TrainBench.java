package dev.merit.bench.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import dev.merit.train.Engines;
import dev.merit.train.Fisher;
import dev.merit.train.Masks;
import dev.merit.train.MaskedTrainer;
import dev.merit.train.MemoryTensors;
import dev.merit.train.Model;
import dev.merit.train.ModelSpec;
import dev.merit.train.Network;
import dev.merit.train.TrainListener;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ImageSet;
import dev.merit.train.data.ShardSpec;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Training throughput (examples/s) on one MLP (784-512-128-10) and the same data, in one run:
 * Merit's FISH-masked trainer, a bare DJL training loop (DJL's own Trainer, Linear blocks and
 * SGD: no mask, no bookkeeping) and PyTorch (Debian's python3-torch), at batch 64 and 256. Also
 * the cost of the FISH mask (Fisher over 256 examples + global top-k) and of the Fisher for
 * merging against one training step, and the share of the machine's matrix-multiply peak (a
 * 1024^3 matmul timed in the same run) that training reaches.
 *
 * <pre>benchmarks/run train.TrainBench [steps=600] [data=DIR] [threads=1]</pre>
 */
public final class TrainBench {

    private static final int H1 = 512;
    private static final int H2 = 128;

    public static void main(String[] args) throws Exception {
        int steps = 600;
        Path dataDir = null;
        int threads = 1;
        for (String a : args) {
            if (a.startsWith("steps=")) {
                steps = Integer.parseInt(a.substring(6));
            } else if (a.startsWith("data=")) {
                dataDir = Path.of(a.substring(5));
            } else if (a.startsWith("threads=")) {
                threads = Integer.parseInt(a.substring(8));
            }
        }
        System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(threads));
        Engines.pytorch();
        DataDir dir = DataDir.of(dataDir);
        ImageSet train = dir.train();
        Examples all = ShardSpec.parse("all").select(train, 0);
        System.out.printf("data: %s (%d examples), model mlp:784-%d-%d-10, %d steps after %d warm-up, %d PyTorch thread(s)%n",
                dir.describe(), all.size(), H1, H2, steps, steps / 4, threads);
        double peak = matmulGflops();
        System.out.printf("matmul peak (1024^3, float32): %.1f GFLOP/s%n", peak);
        long params = 784L * H1 + H1 + (long) H1 * H2 + H2 + H2 * 10L + 10;
        // forward 2 flops per weight, backward 4 (input and weight gradients)
        double flopsPerExample = 6.0 * params;
        Path torchData = pythonData(dataDir);
        System.out.println("| batch | Merit FISH-masked | bare DJL loop | Merit / DJL | PyTorch (python3-torch) | Merit share of matmul peak |");
        System.out.println("|---|---|---|---|---|---|");
        for (int batch : new int[] {64, 256}) {
            double merit = merit(all, batch, steps);
            double bare = bareDjl(train, batch, steps);
            double torch = torchExamplesPerSecond(torchData, batch, steps, threads);
            System.out.printf("| %d | %,.0f ex/s | %,.0f ex/s | %.2fx | %s | %.0f%% |%n", batch, merit, bare, merit / bare,
                    torch > 0 ? String.format("%,.0f ex/s", torch) : "n/a", 100 * merit * flopsPerExample / 1e9 / peak);
        }
        costs(all);
    }

    /** Merit's trainer with a 1% FISH mask, as merit train runs it. */
    static double merit(Examples data, int batch, int steps) {
        try (MemoryTensors init = ModelSpec.parse("mlp:784-" + H1 + "-" + H2 + "-10").initialize(1);
             Model model = new Model(Network.of(init, Optional.empty()), init, Device.cpu());
             NDManager work = model.manager().newSubManager()) {
            Map<String, NDArray> f = Fisher.diagonal(model, data.sample(256, 1), Fisher.Kind.EMPIRICAL, work);
            Masks.Mask mask = Masks.topK(f, Masks.k(0.01, model.parameterCount()), work);
            MaskedTrainer t = new MaskedTrainer(model, mask, MaskedTrainer.Optimizer.SGD, 0.05);
            t.train(data, steps / 4, batch, 1, TrainListener.NONE);
            return t.train(data, steps, batch, 2, TrainListener.NONE).examplesPerSecond();
        }
    }

    /** DJL's own training loop: Trainer, Linear blocks, plain SGD, the same batches built the same way. */
    static double bareDjl(ImageSet images, int batch, int steps) {
        SequentialBlock block = new SequentialBlock()
                .add(Linear.builder().setUnits(H1).build()).add(Activation::relu)
                .add(Linear.builder().setUnits(H2).build()).add(Activation::relu)
                .add(Linear.builder().setUnits(10).build());
        try (ai.djl.Model model = ai.djl.Model.newInstance("bare-djl")) {
            model.setBlock(block);
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.05f)).build());
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(batch, images.pixels()));
                FloatBuffer x = ByteBuffer.allocateDirect(batch * images.pixels() * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
                LongBuffer y = ByteBuffer.allocateDirect(batch * 8).order(ByteOrder.nativeOrder()).asLongBuffer();
                SplittableRandom rnd = new SplittableRandom(1);
                int[] idx = new int[batch];
                long start = 0;
                for (int s = 0; s < steps + steps / 4; s++) {
                    if (s == steps / 4) {
                        start = System.nanoTime();
                    }
                    for (int i = 0; i < batch; i++) {
                        idx[i] = rnd.nextInt(images.size());
                    }
                    images.fill(idx, 0, batch, x, y);
                    try (NDManager step = trainer.getManager().newSubManager()) {
                        NDArray xs = step.create(x, new Shape(batch, images.pixels()), DataType.FLOAT32);
                        NDArray ys = step.create(y, new Shape(batch), DataType.INT64);
                        try (GradientCollector gc = trainer.newGradientCollector()) {
                            NDList preds = trainer.forward(new NDList(xs));
                            NDArray loss = trainer.getLoss().evaluate(new NDList(ys), preds);
                            gc.backward(loss);
                        }
                        trainer.step();
                    }
                }
                return (double) batch * steps / ((System.nanoTime() - start) / 1e9);
            }
        }
    }

    /** Fisher and mask costs in units of one training step (batch 64). */
    static void costs(Examples data) {
        try (MemoryTensors init = ModelSpec.parse("mlp:784-" + H1 + "-" + H2 + "-10").initialize(1);
             Model model = new Model(Network.of(init, Optional.empty()), init, Device.cpu());
             NDManager work = model.manager().newSubManager()) {
            MaskedTrainer t = new MaskedTrainer(model, null, MaskedTrainer.Optimizer.SGD, 0.05);
            t.train(data, 100, 64, 1, TrainListener.NONE);
            MaskedTrainer.Stats st = t.train(data, 300, 64, 2, TrainListener.NONE);
            double step = st.seconds() / st.steps();
            Examples sample = data.sample(256, 3);
            long t0 = System.nanoTime();
            Map<String, NDArray> f;
            try (NDManager m = work.newSubManager()) {
                f = Fisher.diagonal(model, sample, Fisher.Kind.EMPIRICAL, m);
                double fisher = (System.nanoTime() - t0) / 1e9;
                long t1 = System.nanoTime();
                Masks.topK(f, Masks.k(0.005, model.parameterCount()), m);
                double topk = (System.nanoTime() - t1) / 1e9;
                long t2 = System.nanoTime();
                Fisher.diagonal(model, sample, Fisher.Kind.EXACT, m);
                double exact = (System.nanoTime() - t2) / 1e9;
                System.out.printf("%nOne training step (batch 64): %.2f ms%n", step * 1e3);
                System.out.printf("FISH mask: Fisher over 256 examples %.0f ms (%.0f steps) + global top-k of %d entries %.0f ms (%.0f steps)%n",
                        fisher * 1e3, fisher / step, model.parameterCount(), topk * 1e3, topk / step);
                System.out.printf("Fisher for merging, exact (10 classes) over 256 examples: %.0f ms (%.0f steps); empirical as above%n",
                        exact * 1e3, exact / step);
            }
        }
    }

    /** GFLOP/s of a 1024 x 1024 by 1024 x 1024 float32 matmul, best of 10. */
    static double matmulGflops() {
        try (NDManager m = Engines.pytorch().newBaseManager(Device.cpu())) {
            NDArray a = m.randomUniform(-1, 1, new Shape(1024, 1024));
            NDArray b = m.randomUniform(-1, 1, new Shape(1024, 1024));
            double best = Double.MAX_VALUE;
            for (int i = 0; i < 12; i++) {
                try (NDManager s = m.newSubManager()) {
                    long t0 = System.nanoTime();
                    NDArray c = a.matMul(b);
                    c.attach(s);
                    c.getFloat(0, 0);
                    best = Math.min(best, (System.nanoTime() - t0) / 1e9);
                }
            }
            return 2.0 * 1024 * 1024 * 1024 / best / 1e9;
        }
    }

    /** A directory the PyTorch script can read (the Debian set, a given one, or the bundled subset written out). */
    static Path pythonData(Path given) throws IOException {
        if (given != null) {
            return given;
        }
        if (Files.isDirectory(Path.of(DataDir.DEBIAN_DIR))) {
            return Path.of(DataDir.DEBIAN_DIR);
        }
        Path tmp = Files.createTempDirectory("merit-bench-data");
        for (String f : new String[] {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}) {
            try (InputStream in = DataDir.class.getResourceAsStream("fashion-mnist-subset/" + f)) {
                Files.copy(in, tmp.resolve(f));
            }
        }
        return tmp;
    }

    static double torchExamplesPerSecond(Path data, int batch, int steps, int threads) throws Exception {
        Path script = Path.of("benchmarks/src/main/python/torch_train.py");
        if (!Files.isRegularFile(script)) {
            System.out.println("(" + script + " not found: run from the repository root)");
            return -1;
        }
        Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), data.toString(), String.valueOf(H1),
                String.valueOf(H2), String.valueOf(batch), String.valueOf(steps), String.valueOf(steps / 4),
                String.valueOf(threads)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.waitFor() != 0) {
            System.out.println("(PyTorch run failed: " + out + ")");
            return -1;
        }
        String[] lines = out.split("\n");
        return Double.parseDouble(lines[lines.length - 1].strip());
    }
}
