package dev.merit.cli;

import dev.merit.train.Fisher;
import dev.merit.train.MaskedTrainer;
import dev.merit.train.Masks;
import dev.merit.train.TrainRound;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import picocli.CommandLine.Option;

/** How one update is trained: shared by train (one update) and daemon (one per version). */
final class RoundOptions {

    @Option(names = "--shard", paramLabel = "SPEC", defaultValue = "all",
            description = "Which training examples: all, iid:K:i, dirichlet:ALPHA:K:i, classes:C:K:i (default ${DEFAULT-VALUE}); "
                    + "the validation split is never included.")
    String shard;

    @Option(names = "--shard-seed", defaultValue = "0", description = "Seed of the shard split (default ${DEFAULT-VALUE}).")
    long shardSeed;

    @Option(names = "--steps", defaultValue = "100", description = "Training steps per update (default ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--lr", defaultValue = "0.05", description = "Learning rate (default ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--optimizer", paramLabel = "sgd|adam", defaultValue = "sgd", description = "Default ${DEFAULT-VALUE}.")
    String optimizer;

    @Option(names = "--density", paramLabel = "D", defaultValue = "0.01",
            description = "Fraction of the parameters an update may change (default ${DEFAULT-VALUE}).")
    double density;

    @Option(names = "--mask", paramLabel = "fish|random|magnitude|none", defaultValue = "fish",
            description = "How the entries are chosen (default ${DEFAULT-VALUE}); none trains all and keeps the largest changes.")
    String mask;

    @Option(names = "--fisher-samples", paramLabel = "N", defaultValue = "256",
            description = "Examples for the Fisher estimates (default ${DEFAULT-VALUE}).")
    int fisherSamples;

    @Option(names = "--fisher", paramLabel = "empirical|exact", defaultValue = "empirical",
            description = "The Fisher attached for merging: squared gradients on the true labels, or the expectation "
                    + "over the model's predictions (default ${DEFAULT-VALUE}).")
    String fisher;

    /** Fails on a bad optimizer, mask or Fisher name before any work starts. */
    void check() {
        MaskedTrainer.Optimizer.parse(optimizer);
        Masks.Kind.parse(mask);
        Fisher.Kind.parse(fisher);
        ShardSpec.parse(shard);
    }

    /** The shard's examples of {@code dir}'s training split; a bad spec fails here, before any work. */
    Examples select(DataDir dir) {
        return ShardSpec.parse(shard).select(dir.train(), shardSeed);
    }

    /** Sets this round's training choices on {@code round}; a bad name fails with the option it came from. */
    TrainRound configure(TrainRound round) {
        return round.setSteps(steps).setBatch(batch).setLearningRate(lr)
                .setOptimizer(MaskedTrainer.Optimizer.parse(optimizer))
                .setDensity(density).setMask(Masks.Kind.parse(mask))
                .setFisherSamples(fisherSamples).setFisher(Fisher.Kind.parse(fisher));
    }
}
