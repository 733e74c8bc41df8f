package dev.merit.coordinator.validate;

import ai.djl.Device;
import dev.merit.tensor.TensorSource;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The quality gate's evaluator for the models Merit trains: accuracy in percent on the held-out
 * validation split of an MNIST-format data directory (the split no contributor's shard contains),
 * with the model spec recorded in each version's metadata.
 */
public final class AccuracyEvaluator implements Evaluator {

    private final Examples examples;
    private final String description;

    private AccuracyEvaluator(Examples examples, String description) {
        this.examples = examples;
        this.description = description;
    }

    /** Up to {@code maxExamples} validation examples of {@code dir} (null: the default data). */
    public static AccuracyEvaluator validationSplit(Path dir, int maxExamples) {
        DataDir d = DataDir.of(dir);
        Examples val = ShardSpec.validation(d.train());
        Examples used = val.size() > maxExamples ? val.sample(maxExamples, 11) : val;
        return new AccuracyEvaluator(used, "accuracy % on " + used.size() + " held-out examples of " + d.describe());
    }

    @Override
    public double score(TensorSource model) {
        return 100 * dev.merit.train.Evaluator.evaluate(model, Optional.empty(), examples, Device.cpu()).accuracy();
    }

    @Override
    public String describe() {
        return description;
    }
}
