package dev.merit.cli;

import dev.merit.experiment.CollaborationExperiment;
import dev.merit.experiment.Experiments;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "experiment", header = "Run a Fashion-MNIST experiment (q1 merging, q2 sparse training, q3 collaboration, q4 poisoning) and write its results.",
        description = {"Writes NAME.md, NAME.json and NAME-*.svg under --out, and for q1/q4 the checkpoints, Fishers,",
            "Gram matrices and one recipe per strategy (merit merge --recipe reproduces each merge). q3 starts merit serve",
            "for each run and pushes every round's updates to it. See benchmarks/RESULTS.md."})
final class ExperimentCommand extends BaseCommand {

    @Parameters(paramLabel = "q1|q2|q3|q4", description = "Which experiment: q1 merging, q2 sparse training, q3 collaboration through a coordinator, "
            + "q4 poisoned contributors.")
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

    @Option(names = "--rounds", paramLabel = "R", defaultValue = "5", description = "q3: rounds (default ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--contributors", paramLabel = "K", defaultValue = "4", description = "q3: contributors (default ${DEFAULT-VALUE}).")
    int contributors;

    @Option(names = "--variants", paramLabel = "NAME,...", split = ",",
            description = "q3: sparse variants to run (default: all of " + CollaborationExperiment.VARIANT_NAMES + ").")
    List<String> variants;

    @Option(names = "--values", paramLabel = "int8|fp16", defaultValue = "int8",
            description = "q3: value coding of the pushed updates (default ${DEFAULT-VALUE}).")
    String values;

    @Option(names = "--json", description = "Print the results as JSON instead of Markdown.")
    boolean json;

    @Override
    int run() throws Exception {
        if (seeds < 1) {
            throw new dev.merit.error.InvalidInputException("--seeds must be at least 1, got " + seeds);
        }
        java.io.PrintWriter progress = root.quiet ? new java.io.PrintWriter(java.io.Writer.nullWriter()) : err();
        Experiments.Outcome o = which.equalsIgnoreCase("q3")
                ? CollaborationExperiment.run(new CollaborationExperiment.Settings(seeds, rounds, contributors,
                        variants == null ? CollaborationExperiment.defaultVariants() : variants, values, quick),
                        path(out), data == null ? null : path(data), ExperimentCommand::startCoordinator, progress)
                : Experiments.run(which, seeds, path(out), data == null ? null : path(data), quick, models, optimizers, progress);
        if (json) {
            printJson(o.json());
        } else {
            out().print(o.markdown());
            out().println("written: " + String.join(", ", o.files().stream().map(Path::toString).toList()));
        }
        return ExitCode.OK;
    }

    /** Q3's coordinators: {@code merit serve} processes, each with its own data directory under {@code dir}. */
    private static CollaborationExperiment.Running startCoordinator(Path dir, CollaborationExperiment.CoordinatorOptions o)
            throws InterruptedException {
        List<String> args = new java.util.ArrayList<>(List.of("--data", "coordinator"));
        args.addAll(o.serveArgs());
        CoordinatorProcess p = CoordinatorProcess.start(dir, new java.io.PrintWriter(java.io.Writer.nullWriter()), args.toArray(String[]::new));
        return new CollaborationExperiment.Running(p.url(), p.adminToken(), p);
    }
}
