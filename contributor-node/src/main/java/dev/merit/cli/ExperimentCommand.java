package dev.merit.cli;

import dev.merit.experiment.Experiments;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "experiment", header = "Run a Fashion-MNIST experiment (q1 merging, q2 sparse training, q4 poisoning) and write its results.",
        description = {"Writes NAME.md, NAME.json and NAME-*.svg under --out, and for q1/q4 the checkpoints, Fishers,",
            "Gram matrices and one recipe per strategy (merit merge --recipe reproduces each merge). See benchmarks/RESULTS.md."})
final class ExperimentCommand extends BaseCommand {

    @Parameters(paramLabel = "q1|q2|q3|q4", description = "Which experiment: q1 merging, q2 sparse training, q4 poisoned contributors "
            + "(q3 is not implemented yet).")
    String which;

    @Option(names = "--seeds", paramLabel = "N", defaultValue = "3", description = "Seeds to run, 0..N-1 (default ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "experiments",
            description = "Folder for results and checkpoints (default ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--data", paramLabel = "DIR",
            description = "MNIST-format idx files; default Debian's dataset-fashion-mnist, else the bundled subset.")
    Path data;

    @Option(names = "--quick", description = "Tiny models and few steps: checks the pipeline in seconds (numbers are not meaningful).")
    boolean quick;

    @Option(names = "--models", paramLabel = "SPEC,...", split = ",",
            description = "q2: model specs to run (default: the MLP and the CNN of the standard configuration).")
    List<String> models;

    @Option(names = "--optimizers", paramLabel = "sgd,adam", split = ",", defaultValue = "sgd,adam",
            description = "q2: optimizers to run (default ${DEFAULT-VALUE}).")
    List<String> optimizers;

    @Option(names = "--json", description = "Print the results as JSON instead of Markdown.")
    boolean json;

    @Override
    int run() throws Exception {
        if (seeds < 1) {
            throw new dev.merit.error.InvalidInputException("--seeds must be at least 1, got " + seeds);
        }
        Experiments.Outcome o = Experiments.run(which, seeds, path(out), data == null ? null : path(data), quick, models, optimizers,
                root.quiet ? new java.io.PrintWriter(java.io.Writer.nullWriter()) : err());
        if (json) {
            printJson(o.json());
        } else {
            out().print(o.markdown());
            out().println("written: " + String.join(", ", o.files().stream().map(Path::toString).toList()));
        }
        return ExitCode.OK;
    }
}
