package dev.merit.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.merit.tensor.TensorSource;
import dev.merit.train.data.Examples;
import java.util.Optional;

/** Accuracy and mean cross-entropy of a model on a set of examples. */
public final class Evaluator {

    /** {@code accuracy} in [0, 1]; {@code meanLoss} the mean negative log-likelihood. */
    public record Result(double accuracy, double meanLoss, int examples, String model, String data) {}

    private static final int BATCH = 1000;

    private Evaluator() {}

    /** Evaluates {@code weights} (the spec from {@code spec}, else its metadata, else an MLP from its shapes). */
    public static Result evaluate(TensorSource weights, Optional<ModelSpec> spec, Examples examples, Device device) {
        Network net = Network.of(weights, spec);
        try (Model model = new Model(net, weights, device)) {
            return evaluate(model, examples);
        }
    }

    public static Result evaluate(Model model, Examples examples) {
        if (examples.size() == 0) {
            throw new dev.merit.error.InvalidInputException("nothing to evaluate on: " + examples.description() + " is empty");
        }
        Batches batches = new Batches(examples, BATCH, 0, false);
        long correct = 0;
        double loss = 0;
        while (batches.hasNext()) {
            try (NDManager s = model.manager().newSubManager()) {
                NDArray[] b = batches.next(s);
                NDArray logits = model.network().forward(model.params(), b[0]);
                correct += logits.argMax(1).eq(b[1]).sum().getLong();
                loss += Losses.perExample(logits, b[1]).sum().getFloat();
            }
        }
        return new Result((double) correct / examples.size(), loss / examples.size(), examples.size(),
                model.network().spec().text(), examples.description());
    }
}
