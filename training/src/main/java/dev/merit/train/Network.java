package dev.merit.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;

/**
 * The forward pass of a model over named parameters. An MLP's layer order comes from the
 * tensors' shapes (each layer's input size is the previous one's output size), not from their
 * names, so checkpoints written by other frameworks ({@code 0.0.weight}, {@code fc1.weight})
 * train as they are.
 */
public abstract sealed class Network permits Network.MlpNet, Network.CnnNet {

    /** A linear layer: its weight {@code [out, in]} and bias {@code [out]} (null if it has none). */
    public record LinearLayer(String weight, String bias, int in, int out) {}

    /**
     * Sees each linear layer during a forward pass: its input batch {@code [B, in]} (RegMean
     * statistics, per-example gradients) and its output {@code [B, out]}, which it may replace
     * (adding a zero probe whose gradient is dLoss/dOutput).
     */
    public interface LinearInputs extends BiConsumer<LinearLayer, NDArray> {
        LinearInputs NONE = (l, x) -> {};

        default NDArray output(LinearLayer layer, NDArray y) {
            return y;
        }
    }

    public abstract ModelSpec spec();

    /** The linear layers in the order the forward pass uses them. */
    public abstract List<LinearLayer> linearLayers();

    /** Logits {@code [B, classes]} for images {@code [B, pixels]} scaled to [0, 1]. */
    public abstract NDArray forward(Map<String, NDArray> params, NDArray images, LinearInputs hook);

    public NDArray forward(Map<String, NDArray> params, NDArray images) {
        return forward(params, images, LinearInputs.NONE);
    }

    static NDArray linear(NDArray x, Map<String, NDArray> p, LinearLayer l, LinearInputs hook) {
        hook.accept(l, x);
        return hook.output(l, Linear.linear(x, p.get(l.weight()), l.bias() == null ? null : p.get(l.bias())).singletonOrThrow());
    }

    /**
     * The network for a checkpoint: the spec given (from {@code --model} or the version's
     * metadata), checked against the tensors; without one, an MLP read from the shapes.
     */
    public static Network of(TensorSource weights, Optional<ModelSpec> given) {
        Optional<ModelSpec> spec = given.isPresent() ? given
                : Optional.ofNullable(weights.metadata().get(ModelSpec.METADATA_KEY)).map(ModelSpec::parse);
        for (TensorInfo t : weights.tensors()) {
            if (t.dtype() != DType.F32) {
                throw new InvalidInputException(weights.describe() + ": tensor '" + t.name() + "' is " + t.dtype()
                        + "; training and evaluation need F32 parameters");
            }
        }
        if (spec.isPresent() && spec.get() instanceof ModelSpec.Cnn cnn) {
            return new CnnNet(cnn, weights);
        }
        MlpNet mlp = MlpNet.fromShapes(weights);
        if (spec.isPresent() && !spec.get().equals(mlp.spec())) {
            throw new InvalidInputException(weights.describe() + ": the tensors form " + mlp.spec().text()
                    + ", not " + spec.get().text());
        }
        return mlp;
    }

    static final class MlpNet extends Network {
        private final List<LinearLayer> layers;
        private final ModelSpec.Mlp spec;

        MlpNet(List<LinearLayer> layers) {
            this.layers = List.copyOf(layers);
            int[] sizes = new int[layers.size() + 1];
            sizes[0] = layers.get(0).in();
            for (int i = 0; i < layers.size(); i++) {
                sizes[i + 1] = layers.get(i).out();
            }
            this.spec = new ModelSpec.Mlp(sizes);
        }

        static MlpNet fromShapes(TensorSource w) {
            Map<String, TensorInfo> byName = new HashMap<>();
            w.tensors().forEach(t -> byName.put(t.name(), t));
            List<LinearLayer> candidates = new ArrayList<>();
            List<String> used = new ArrayList<>();
            for (TensorInfo t : w.tensors()) {
                if (t.rank() != 2) {
                    continue;
                }
                String prefix = t.name().endsWith("weight") ? t.name().substring(0, t.name().length() - "weight".length()) : null;
                TensorInfo b = prefix == null ? null : byName.get(prefix + "bias");
                if (b != null && !(b.rank() == 1 && b.dim(0) == t.dim(0))) {
                    throw new InvalidInputException(w.describe() + ": bias '" + b.name() + "' is " + b.shapeString()
                            + ", expected [" + t.dim(0) + "] for weight '" + t.name() + "' " + t.shapeString());
                }
                candidates.add(new LinearLayer(t.name(), b == null ? null : b.name(), (int) t.dim(1), (int) t.dim(0)));
                used.add(t.name());
                if (b != null) {
                    used.add(b.name());
                }
            }
            for (TensorInfo t : w.tensors()) {
                if (!used.contains(t.name())) {
                    throw new InvalidInputException(w.describe() + ": tensor '" + t.name() + "' " + t.shapeString()
                            + " is not a weight [out, in] or its bias [out]: not an MLP (give --model)");
                }
            }
            if (candidates.isEmpty()) {
                throw new InvalidInputException(w.describe() + ": no 2-D weight tensors: not an MLP");
            }
            candidates.sort(Comparator.comparing(LinearLayer::weight, Network::naturalOrder));
            // The first layer takes an input no other layer produces; then follow in == previous out.
            List<LinearLayer> chain = new ArrayList<>();
            List<LinearLayer> left = new ArrayList<>(candidates);
            LinearLayer first = left.stream()
                    .filter(l -> left.stream().noneMatch(o -> o != l && o.out() == l.in()))
                    .findFirst().orElse(left.get(0));
            chain.add(first);
            left.remove(first);
            while (!left.isEmpty()) {
                int need = chain.get(chain.size() - 1).out();
                LinearLayer next = left.stream().filter(l -> l.in() == need).findFirst().orElseThrow(() ->
                        new InvalidInputException(w.describe() + ": the linear layers do not chain: after '"
                                + chain.get(chain.size() - 1).weight() + "' (" + need + " outputs) none of "
                                + left.stream().map(l -> l.weight() + " [" + l.out() + "," + l.in() + "]").toList()
                                + " takes " + need + " inputs"));
                chain.add(next);
                left.remove(next);
            }
            return new MlpNet(chain);
        }

        @Override
        public ModelSpec spec() {
            return spec;
        }

        @Override
        public List<LinearLayer> linearLayers() {
            return layers;
        }

        @Override
        public NDArray forward(Map<String, NDArray> p, NDArray images, LinearInputs hook) {
            NDArray x = images;
            for (int i = 0; i < layers.size(); i++) {
                x = linear(x, p, layers.get(i), hook);
                if (i + 1 < layers.size()) {
                    x = Activation.relu(x);
                }
            }
            return x;
        }
    }

    static final class CnnNet extends Network {
        private static final Shape ONE = new Shape(1, 1);
        private static final Shape PAD = new Shape(1, 1);
        private static final Shape POOL = new Shape(2, 2);
        private static final Shape NO_PAD = new Shape(0, 0);
        private final ModelSpec.Cnn spec;
        private final List<LinearLayer> layers;

        CnnNet(ModelSpec.Cnn spec, TensorSource w) {
            this.spec = spec;
            for (TensorInfo t : spec.layout()) {
                TensorInfo have = w.info(t.name()).orElseThrow(() -> new InvalidInputException(
                        w.describe() + ": " + spec.text() + " needs tensor '" + t.name() + "' " + t.shapeString()));
                if (!Arrays.equals(have.shape(), t.shape())) {
                    throw new InvalidInputException(w.describe() + ": tensor '" + t.name() + "' is " + have.shapeString()
                            + ", " + spec.text() + " needs " + t.shapeString());
                }
            }
            if (w.tensors().size() != spec.layout().size()) {
                throw new InvalidInputException(w.describe() + ": has " + w.tensors().size() + " tensors, "
                        + spec.text() + " has " + spec.layout().size());
            }
            this.layers = List.of(new LinearLayer("7.weight", "7.bias", 2 * spec.width() * 49, ModelSpec.Cnn.HIDDEN),
                    new LinearLayer("9.weight", "9.bias", ModelSpec.Cnn.HIDDEN, ModelSpec.Cnn.CLASSES));
        }

        @Override
        public ModelSpec spec() {
            return spec;
        }

        @Override
        public List<LinearLayer> linearLayers() {
            return layers;
        }

        @Override
        public NDArray forward(Map<String, NDArray> p, NDArray images, LinearInputs hook) {
            long b = images.getShape().get(0);
            NDArray x = images.reshape(b, 1, 28, 28);
            x = Conv2d.conv2d(x, p.get("0.weight"), p.get("0.bias"), ONE, PAD, ONE, 1).singletonOrThrow();
            x = Pool.maxPool2d(Activation.relu(x), POOL, POOL, NO_PAD, false);
            x = Conv2d.conv2d(x, p.get("3.weight"), p.get("3.bias"), ONE, PAD, ONE, 1).singletonOrThrow();
            x = Pool.maxPool2d(Activation.relu(x), POOL, POOL, NO_PAD, false);
            x = x.reshape(b, -1);
            x = Activation.relu(linear(x, p, layers.get(0), hook));
            return linear(x, p, layers.get(1), hook);
        }
    }

    /** Orders "2.weight" before "10.weight": digit runs compare as numbers. */
    static int naturalOrder(String a, String b) {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            char ca = a.charAt(i);
            char cb = b.charAt(j);
            if (Character.isDigit(ca) && Character.isDigit(cb)) {
                int si = i;
                int sj = j;
                while (i < a.length() && Character.isDigit(a.charAt(i))) {
                    i++;
                }
                while (j < b.length() && Character.isDigit(b.charAt(j))) {
                    j++;
                }
                int c = new java.math.BigInteger(a.substring(si, i)).compareTo(new java.math.BigInteger(b.substring(sj, j)));
                if (c != 0) {
                    return c;
                }
            } else {
                if (ca != cb) {
                    return Character.compare(ca, cb);
                }
                i++;
                j++;
            }
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
