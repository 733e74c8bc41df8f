package dev.merit.train;

import dev.merit.error.InvalidInputException;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * What model a repository trains: {@code mlp:784-256-128-10} (linear layers with ReLU between) or
 * {@code cnn[:WIDTH]} (two conv + max-pool blocks and two linear layers). Parameters are named as
 * PyTorch's {@code torch.nn.Sequential} names them, so a file moves between Merit and PyTorch
 * unchanged. The spec is kept in a version's metadata under {@value #METADATA_KEY}.
 */
public sealed interface ModelSpec permits ModelSpec.Mlp, ModelSpec.Cnn {

    String METADATA_KEY = "merit.model";

    /** The spec as written on the command line. */
    String text();

    /** The parameters with their names and shapes, in PyTorch's order. */
    List<TensorInfo> layout();

    static ModelSpec parse(String spec) {
        String s = spec.trim();
        try {
            if (s.startsWith("mlp:")) {
                int[] sizes = Arrays.stream(s.substring(4).split("-")).mapToInt(Integer::parseInt).toArray();
                if (sizes.length < 2 || Arrays.stream(sizes).anyMatch(n -> n <= 0)) {
                    throw new NumberFormatException();
                }
                return new Mlp(sizes);
            }
            if (s.equals("cnn")) {
                return new Cnn(Cnn.DEFAULT_WIDTH);
            }
            if (s.startsWith("cnn:")) {
                int w = Integer.parseInt(s.substring(4));
                if (w <= 0) {
                    throw new NumberFormatException();
                }
                return new Cnn(w);
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new InvalidInputException("model spec '" + spec + "': expected mlp:IN-HIDDEN...-OUT (e.g. mlp:784-256-128-10) or cnn[:WIDTH]");
    }

    /**
     * A freshly initialised model as PyTorch initialises it by default: weights and biases of a
     * layer with fan-in {@code n} uniform in [-1/sqrt(n), 1/sqrt(n)] (kaiming-uniform with
     * a = sqrt(5) gives the same bound for weights). Seeded, so the same seed gives the same bytes.
     */
    default MemoryTensors initialize(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        MemoryTensors m = new MemoryTensors(Map.of(METADATA_KEY, text()), text() + " (seed " + seed + ")");
        for (TensorInfo t : layout()) {
            long fanIn = t.rank() == 1 ? fanInOfBias(t) : t.numel() / t.dim(0);
            double bound = 1.0 / Math.sqrt(fanIn);
            MemorySegment seg = m.add(t);
            for (long i = 0; i < t.numel(); i++) {
                seg.setAtIndex(MemoryTensors.F32, i, (float) rnd.nextDouble(-bound, bound));
            }
        }
        return m;
    }

    private long fanInOfBias(TensorInfo bias) {
        String weight = bias.name().substring(0, bias.name().length() - "bias".length()) + "weight";
        TensorInfo w = layout().stream().filter(t -> t.name().equals(weight)).findFirst().orElseThrow();
        return w.numel() / w.dim(0);
    }

    /** Linear layers {@code sizes[0] -> sizes[1] -> ...}, named 0, 2, 4, ... as in {@code Sequential(Linear, ReLU, Linear, ...)}. */
    record Mlp(int[] sizes) implements ModelSpec {
        @Override
        public String text() {
            return "mlp:" + Arrays.stream(sizes).mapToObj(String::valueOf).collect(Collectors.joining("-"));
        }

        @Override
        public List<TensorInfo> layout() {
            List<TensorInfo> l = new ArrayList<>();
            for (int i = 0; i + 1 < sizes.length; i++) {
                l.add(TensorInfo.of((2 * i) + ".weight", dev.merit.tensor.DType.F32, sizes[i + 1], sizes[i]));
                l.add(TensorInfo.of((2 * i) + ".bias", dev.merit.tensor.DType.F32, sizes[i + 1]));
            }
            return l;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Mlp m && Arrays.equals(sizes, m.sizes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(sizes);
        }

        @Override
        public String toString() {
            return text();
        }
    }

    /**
     * For 1x28x28 images, as {@code torch.nn.Sequential}:
     * <pre>
     * 0 Conv2d(1, W, 3, padding=1)   1 ReLU   2 MaxPool2d(2)
     * 3 Conv2d(W, 2W, 3, padding=1)  4 ReLU   5 MaxPool2d(2)   6 Flatten
     * 7 Linear(2W*7*7, 512)          8 ReLU   9 Linear(512, 10)
     * </pre>
     * The default width 32 has 1.6M parameters.
     */
    record Cnn(int width) implements ModelSpec {
        static final int DEFAULT_WIDTH = 32;
        static final int HIDDEN = 512;
        static final int CLASSES = 10;

        @Override
        public String text() {
            return width == DEFAULT_WIDTH ? "cnn" : "cnn:" + width;
        }

        @Override
        public List<TensorInfo> layout() {
            var f = dev.merit.tensor.DType.F32;
            int w = width;
            return List.of(
                    TensorInfo.of("0.weight", f, w, 1, 3, 3), TensorInfo.of("0.bias", f, w),
                    TensorInfo.of("3.weight", f, 2 * w, w, 3, 3), TensorInfo.of("3.bias", f, 2 * w),
                    TensorInfo.of("7.weight", f, HIDDEN, 2L * w * 49), TensorInfo.of("7.bias", f, HIDDEN),
                    TensorInfo.of("9.weight", f, CLASSES, HIDDEN), TensorInfo.of("9.bias", f, CLASSES));
        }
    }
}
