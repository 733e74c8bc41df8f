package dev.merit.experiment;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.merit.safetensors.Safetensors;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.train.Evaluator;
import dev.merit.train.Fisher;
import dev.merit.train.Grams;
import dev.merit.train.MaskedTrainer;
import dev.merit.train.Masks;
import dev.merit.train.MemoryTensors;
import dev.merit.train.Model;
import dev.merit.train.ModelSpec;
import dev.merit.train.Network;
import dev.merit.train.TrainListener;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ImageSet;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The pieces every experiment uses: data, training, Fisher, evaluation and files, all through dev.merit.train. */
final class Lab {

    final ImageSet train;
    final Examples test;
    final Device device = Device.cpu();

    Lab(DataDir data, int testExamples) {
        this.train = data.train();
        Examples all = data.test().all();
        this.test = testExamples > 0 ? all.sample(testExamples, 12345) : all;
    }

    /** Trains a copy of {@code start} (left unchanged) and returns the trained weights. */
    MemoryTensors train(ModelSpec spec, TensorSource start, Examples data, Masks.Mask mask, MaskedTrainer.Optimizer opt,
                        double lr, int steps, int batch, long seed, String what) {
        try (Model m = new Model(Network.of(start, Optional.of(spec)), start, device)) {
            new MaskedTrainer(m, mask, opt, lr).train(data, steps, batch, seed, TrainListener.NONE);
            return m.snapshot(what);
        }
    }

    double accuracy(ModelSpec spec, TensorSource weights) {
        return Evaluator.evaluate(weights, Optional.of(spec), test, device).accuracy();
    }

    double accuracy(ModelSpec spec, Path file) {
        try (TensorSource s = Safetensors.open(file)) {
            return accuracy(spec, s);
        }
    }

    /** The diagonal Fisher of {@code weights} over {@code n} examples of {@code data}, as tensors named like the parameters. */
    MemoryTensors fisher(ModelSpec spec, TensorSource weights, Examples data, int n, Fisher.Kind kind, long seed) {
        try (Model m = new Model(Network.of(weights, Optional.of(spec)), weights, device);
             NDManager work = m.manager().newSubManager()) {
            Map<String, NDArray> f = Fisher.diagonal(m, data.sample(n, seed), kind, work);
            return toTensors(m.layout(), f, kind.name().toLowerCase() + " Fisher");
        }
    }

    /** The RegMean Gram matrices of the linear layers' inputs over {@code examples}, packed, F32. */
    MemoryTensors gram(ModelSpec spec, TensorSource weights, Examples examples) {
        try (Model m = new Model(Network.of(weights, Optional.of(spec)), weights, device)) {
            return Grams.compute(m, examples, DType.F32, 256);
        }
    }

    static MemoryTensors toTensors(List<TensorInfo> layout, Map<String, NDArray> arrays, String what) {
        MemoryTensors out = new MemoryTensors(Map.of(), what);
        for (TensorInfo t : layout) {
            MemorySegment into = out.add(t);
            ByteBuffer b = arrays.get(t.name()).toType(DataType.FLOAT32, false).toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            MemorySegment.copy(MemorySegment.ofBuffer(b), 0, into, 0, into.byteSize());
        }
        return out;
    }

    /** Softmax outputs {@code [test, 10]} of a model on the test examples (for ensembles). */
    float[] probabilities(ModelSpec spec, TensorSource weights) {
        int n = test.size();
        int px = train.pixels();
        FloatBuffer x = ByteBuffer.allocateDirect(n * px * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        LongBuffer y = ByteBuffer.allocateDirect(n * 8).order(ByteOrder.nativeOrder()).asLongBuffer();
        test.images().fill(test.indices(), 0, n, x, y);
        try (Model m = new Model(Network.of(weights, Optional.of(spec)), weights, device);
             NDManager s = m.manager().newSubManager()) {
            NDArray xs = s.create(x, new Shape(n, px), DataType.FLOAT32);
            return m.network().forward(m.params(), xs).softmax(1).toFloatArray();
        }
    }

    /** Accuracy of the mean of several models' softmax outputs. */
    double ensembleAccuracy(List<float[]> probs) {
        int n = test.size();
        int correct = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            double bestP = -1;
            for (int c = 0; c < ImageSet.CLASSES; c++) {
                double p = 0;
                for (float[] pr : probs) {
                    p += pr[i * ImageSet.CLASSES + c];
                }
                if (p > bestP) {
                    bestP = p;
                    best = c;
                }
            }
            if (best == test.images().label(test.indices()[i])) {
                correct++;
            }
        }
        return (double) correct / n;
    }

    static Examples union(List<Examples> parts) {
        int[] all = parts.stream().flatMapToInt(e -> Arrays.stream(e.indices())).toArray();
        return new Examples(parts.getFirst().images(), all, "union of " + parts.size() + " shards");
    }

    static void write(TensorSource t, Path file) {
        SafetensorsWriter.write(t, file);
    }
}
