package dev.merit.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.merit.error.InvalidInputException;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ImageSet;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The diagonal Fisher information of a model at its current parameters, averaged over examples
 * from per-example gradients (the square of a batch gradient would not do: per-example squares
 * do not cancel).
 * <ul>
 *   <li>empirical: E_x[(d/dθ log p(y|x))²] with y the true label;</li>
 *   <li>exact: E_x[Σ_c p(c|x) (d/dθ log p(c|x))²], the expectation over the model's own
 *       predictive distribution (one backward pass per class).</li>
 * </ul>
 */
public final class Fisher {

    public enum Kind {
        EMPIRICAL, EXACT;

        public static Kind parse(String s) {
            try {
                return valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new InvalidInputException("--fisher must be empirical or exact, got '" + s + "'");
            }
        }
    }

    private Fisher() {}

    /** Examples per backward pass when every parameter belongs to a linear layer. */
    private static final int BATCH = 64;

    /** Per parameter, the diagonal Fisher over {@code examples}, as arrays in {@code into}. */
    public static Map<String, NDArray> diagonal(Model model, Examples examples, Kind kind, NDManager into) {
        if (examples.size() == 0) {
            throw new InvalidInputException("the Fisher needs at least one example; the shard is empty");
        }
        return diagonal(model, examples, kind, into, onlyLinearLayers(model));
    }

    /** As {@link #diagonal(Model, Examples, Kind, NDManager)}; {@code batched} only for networks of linear layers. */
    static Map<String, NDArray> diagonal(Model model, Examples examples, Kind kind, NDManager into, boolean batched) {
        Map<String, NDArray> sum = new LinkedHashMap<>();
        model.params().forEach((name, p) -> {
            sum.put(name, into.zeros(p.getShape()));
            p.setRequiresGradient(true);
        });
        if (batched) {
            batched(model, examples, kind, sum);
        } else {
            perExample(model, examples, kind, sum);
        }
        float inv = 1f / examples.size();
        sum.values().forEach(a -> a.muli(inv));
        return sum;
    }

    static boolean onlyLinearLayers(Model model) {
        java.util.Set<String> linear = new java.util.HashSet<>();
        for (Network.LinearLayer l : model.network().linearLayers()) {
            linear.add(l.weight());
            if (l.bias() != null) {
                linear.add(l.bias());
            }
        }
        return linear.containsAll(model.params().keySet());
    }

    /**
     * Per-example squared gradients of linear layers without one backward pass per example: for
     * example i, the weight gradient is the outer product of delta_i = dL_i/d(output) and the
     * layer input a_i, so the sum over i of its square is (delta²)ᵀ (a²), and the bias's is the sum
     * of delta². delta comes from a zero probe added to each layer's output; with the loss summed
     * over the batch, the probe's gradient row i is example i's delta.
     */
    private static void batched(Model model, Examples examples, Kind kind, Map<String, NDArray> sum) {
        Batches batches = new Batches(examples, BATCH, 0, false);
        while (batches.hasNext()) {
            try (NDManager s = model.manager().newSubManager()) {
                NDArray[] b = batches.next(s);
                if (kind == Kind.EMPIRICAL) {
                    probePass(model, s, b[0], sum, null, logits -> Losses.perExample(logits, b[1]).sum());
                } else {
                    NDArray probs = model.network().forward(model.params(), b[0]).softmax(1);
                    for (int c = 0; c < ImageSet.CLASSES; c++) {
                        NDArray label = s.full(new ai.djl.ndarray.types.Shape(b[0].getShape().get(0)), (long) c);
                        NDArray weight = probs.get(":, " + c).reshape(-1, 1);
                        probePass(model, s, b[0], sum, weight, logits -> Losses.perExample(logits, label).sum());
                    }
                }
            }
        }
    }

    /** One forward and backward with probes; adds sum_i w_i (per-example gradient)² to {@code sum}. */
    private static void probePass(Model model, NDManager s, NDArray x, Map<String, NDArray> sum, NDArray rowWeight,
                                  java.util.function.Function<NDArray, NDArray> lossOf) {
        Map<Network.LinearLayer, NDArray> inputs = new java.util.HashMap<>();
        Map<Network.LinearLayer, NDArray> probes = new java.util.HashMap<>();
        Network.LinearInputs hook = new Network.LinearInputs() {
            @Override
            public void accept(Network.LinearLayer l, NDArray in) {
                inputs.put(l, in);
            }

            @Override
            public NDArray output(Network.LinearLayer l, NDArray y) {
                NDArray probe = s.zeros(y.getShape());
                probe.setRequiresGradient(true);
                probes.put(l, probe);
                return y.add(probe);
            }
        };
        try (GradientCollector gc = Engines.pytorch().newGradientCollector()) {
            gc.backward(lossOf.apply(model.network().forward(model.params(), x, hook)));
        }
        for (Network.LinearLayer l : model.network().linearLayers()) {
            NDArray delta = probes.get(l).getGradient();
            delta.attach(s);
            NDArray d2 = delta.square();
            if (rowWeight != null) {
                d2.muli(rowWeight);
            }
            NDArray a2 = inputs.get(l).stopGradient().square();
            sum.get(l.weight()).addi(d2.transpose().dot(a2));
            if (l.bias() != null) {
                sum.get(l.bias()).addi(d2.sum(new int[] {0}));
            }
        }
        // The parameters' own gradients were accumulated too: clear them for whoever trains next.
        for (NDArray p : model.params().values()) {
            NDArray g = p.getGradient();
            g.attach(s);
            g.subi(g);
        }
    }

    /** One backward pass per example (and per class for the exact Fisher): any network. */
    private static void perExample(Model model, Examples examples, Kind kind, Map<String, NDArray> sum) {
        Batches one = new Batches(examples, 1, 0, false);
        while (one.hasNext()) {
            try (NDManager s = model.manager().newSubManager()) {
                NDArray[] b = one.next(s);
                if (kind == Kind.EMPIRICAL) {
                    accumulate(model, s, sum, 1f, () -> Losses.mean(model.network().forward(model.params(), b[0]), b[1]));
                } else {
                    float[] probs = model.network().forward(model.params(), b[0]).softmax(1).toFloatArray();
                    for (int c = 0; c < ImageSet.CLASSES; c++) {
                        if (probs[c] == 0f) {
                            continue;
                        }
                        NDArray label = s.create(new long[] {c});
                        accumulate(model, s, sum, probs[c], () -> Losses.mean(model.network().forward(model.params(), b[0]), label));
                    }
                }
            }
        }
    }

    /** Adds weight x (gradient of loss)² to {@code sum}, then zeroes the gradients. */
    private static void accumulate(Model model, NDManager s, Map<String, NDArray> sum, float weight,
                                   java.util.function.Supplier<NDArray> loss) {
        try (GradientCollector gc = Engines.pytorch().newGradientCollector()) {
            gc.backward(loss.get());
        }
        for (Map.Entry<String, NDArray> e : model.params().entrySet()) {
            NDArray g = e.getValue().getGradient();
            g.attach(s);
            NDArray sq = g.square();
            sum.get(e.getKey()).addi(weight == 1f ? sq : sq.muli(weight));
            g.subi(g);
        }
    }
}
