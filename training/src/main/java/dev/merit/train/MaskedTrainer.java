package dev.merit.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import dev.merit.train.data.Examples;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Trains a model's parameters in place with SGD or Adam, changing only the entries a mask
 * allows: each gradient is multiplied by its tensor's 0/1 mask before the update, so an entry
 * outside the mask keeps its value exactly (its SGD step and its Adam moments stay zero).
 * Everything a step allocates lives in a sub-manager closed at the end of the step.
 */
public final class MaskedTrainer {

    public enum Optimizer {
        SGD, ADAM;

        public static Optimizer parse(String s) {
            try {
                return valueOf(s.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new dev.merit.error.InvalidInputException("--optimizer must be sgd or adam, got '" + s + "'");
            }
        }
    }

    /** What one run did. */
    public record Stats(int steps, long examples, double finalLoss, double seconds) {
        public double examplesPerSecond() {
            return seconds > 0 ? examples / seconds : 0;
        }
    }

    private static final float BETA1 = 0.9f;
    private static final float BETA2 = 0.999f;
    private static final float EPS = 1e-8f;

    private final Model model;
    private final Masks.Mask mask;
    private final Optimizer optimizer;
    private final float lr;
    private final Map<String, NDArray[]> adamState = new HashMap<>();
    private float proximal;
    private Map<String, NDArray> anchor = Map.of();

    /** {@code mask} null trains every entry. */
    public MaskedTrainer(Model model, Masks.Mask mask, Optimizer optimizer, double lr) {
        this.model = model;
        this.mask = mask;
        this.optimizer = optimizer;
        this.lr = (float) lr;
        for (NDArray p : model.params().values()) {
            p.setRequiresGradient(true);
        }
    }

    /**
     * Adds FedProx's proximal term {@code mu/2 ||w - w0||^2} to the loss, with {@code w0} the
     * weights now (the version the round started from), so local training cannot drift far from it.
     * 0 turns it off.
     */
    public MaskedTrainer withProximal(double mu) {
        if (!(mu >= 0) || Double.isInfinite(mu)) {
            throw new dev.merit.error.InvalidInputException("--proximal must be a finite number >= 0, got " + mu);
        }
        this.proximal = (float) mu;
        Map<String, NDArray> a = new HashMap<>();
        if (mu > 0) {
            model.params().forEach((name, p) -> {
                NDArray c = p.duplicate();
                c.attach(model.manager());
                a.put(name, c);
            });
        }
        this.anchor = a;
        return this;
    }

    /** {@code steps} steps of {@code batch} examples drawn from {@code data} in a seeded order. */
    public Stats train(Examples data, int steps, int batch, long seed, TrainListener listener) {
        Batches batches = new Batches(data, batch, seed, true);
        double recent = 0;
        int recentCount = 0;
        long examples = 0;
        long start = System.nanoTime();
        for (int s = 1; s <= steps; s++) {
            double loss;
            try (NDManager step = model.manager().newSubManager()) {
                NDArray[] b = batches.next(step);
                loss = step(step, b[0], b[1], s);
                examples += b[0].getShape().get(0);
            }
            // The final loss is the mean of the last steps' losses (a single batch is noisy).
            if (s > steps - Math.max(1, Math.min(50, steps / 5))) {
                recent += loss;
                recentCount++;
            }
            double secs = (System.nanoTime() - start) / 1e9;
            listener.step(s, steps, loss, secs > 0 ? examples / secs : 0);
        }
        return new Stats(steps, examples, recentCount == 0 ? Double.NaN : recent / recentCount, (System.nanoTime() - start) / 1e9);
    }

    /** One forward, backward and masked update; returns the batch's mean loss. */
    double step(NDManager step, NDArray x, NDArray y, int t) {
        NDArray loss;
        try (GradientCollector gc = Engines.pytorch().newGradientCollector()) {
            loss = Losses.mean(model.network().forward(model.params(), x), y);
            gc.backward(loss);
        }
        for (Map.Entry<String, NDArray> e : model.params().entrySet()) {
            NDArray p = e.getValue();
            NDArray g = p.getGradient();
            g.attach(step);
            if (proximal > 0) {
                // d/dw of mu/2 ||w - w0||^2
                NDArray pull = p.sub(anchor.get(e.getKey()));
                pull.attach(step);
                g.addi(pull.muli(proximal));
            }
            NDArray m = mask == null ? null : mask.of(e.getKey());
            if (m != null) {
                g.muli(m);
            }
            if (optimizer == Optimizer.SGD) {
                p.subi(g.mul(lr));
            } else {
                adam(step, e.getKey(), p, g, t);
            }
            g.subi(g);
        }
        return loss.getFloat();
    }

    private void adam(NDManager step, String name, NDArray p, NDArray g, int t) {
        NDArray[] mv = adamState.computeIfAbsent(name, n -> new NDArray[] {
                model.manager().zeros(p.getShape()), model.manager().zeros(p.getShape())});
        mv[0].muli(BETA1).addi(g.mul(1 - BETA1));
        mv[1].muli(BETA2).addi(g.square().muli(1 - BETA2));
        double corr = Math.sqrt(1 - Math.pow(BETA2, t)) / (1 - Math.pow(BETA1, t));
        // Outside the mask m = v = 0, so the step is 0 / (0 + eps) = 0.
        // A result belongs to its first operand's manager: move the temporaries to the step's.
        NDArray denominator = mv[1].sqrt();
        denominator.attach(step);
        NDArray update = mv[0].div(denominator.addi(EPS));
        update.attach(step);
        p.subi(update.muli(lr * corr));
    }
}
