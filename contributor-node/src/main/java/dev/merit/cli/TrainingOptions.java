package dev.merit.cli;

import dev.merit.train.ModelSpec;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Option;

/** Options shared by train and eval: where the data is, which model, which device. */
final class TrainingOptions {

    @Option(names = "--data", paramLabel = "DIR",
            description = "MNIST-format idx files (train-*, t10k-*, optionally .gz). Default: Debian's "
                    + "dataset-fashion-mnist when installed, else the Fashion-MNIST subset bundled with merit.")
    Path data;

    @Option(names = "--model", paramLabel = "SPEC",
            description = "Model spec (mlp:784-256-128-10, cnn[:WIDTH]); default: the one recorded in the version.")
    String model;

    @Option(names = "--device", paramLabel = "cpu|gpu|auto", defaultValue = "cpu",
            description = "Where to compute (default ${DEFAULT-VALUE}); gpu needs a CUDA build of PyTorch (docs/training.md).")
    String device;

    Optional<ModelSpec> spec() {
        return Optional.ofNullable(model).map(ModelSpec::parse);
    }
}
