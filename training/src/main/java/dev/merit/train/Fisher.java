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

    /** Per parameter, the diagonal Fisher over {@code examples}, as arrays in {@code into}. */
    public static Map<String, NDArray> diagonal(Model model, Examples examples, Kind kind, NDManager into) {
        if (examples.size() == 0) {
            throw new InvalidInputException("the Fisher needs at least one example; the shard is empty");
        }
        Map<String, NDArray> sum = new LinkedHashMap<>();
        model.params().forEach((name, p) -> {
            sum.put(name, into.zeros(p.getShape()));
            p.setRequiresGradient(true);
        });
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
        float inv = 1f / examples.size();
        sum.values().forEach(a -> a.muli(inv));
        return sum;
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
