package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.train.Engines;
import dev.merit.train.TrainListener;
import dev.merit.train.TrainResult;
import dev.merit.train.TrainRound;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "train", header = "Train a sparse update from HEAD on local data and commit it.",
        description = {
            "Chooses the entries to train (FISH: the largest diagonal Fisher at HEAD, over --fisher-samples",
            "examples; k = density x parameters), trains only those, and commits the update with the Fisher",
            "at the trained weights on the changed entries (and, with --regmean, each linear layer's input",
            "Gram matrix). What the mask and value coding leave out is kept in .merit/train/ and added to",
            "the next round's update (error feedback)."})
final class TrainCommand extends BaseCommand {

    @Mixin
    TrainingOptions opts;

    @Mixin
    RoundOptions round;

    @Option(names = "--regmean", description = "Attach each linear layer's input Gram matrix (RegMean statistics).")
    boolean regmean;

    @Option(names = "--gram-dtype", paramLabel = "f32|f16", defaultValue = "f32", description = "Default ${DEFAULT-VALUE}.")
    String gramDtype;

    @Option(names = "--values", paramLabel = "exact|fp16|bf16|int8", defaultValue = "exact",
            description = "How changed values are stored (default ${DEFAULT-VALUE}).")
    String values;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of batch order, samples and random masks (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = {"-m", "--message"}, required = true, description = "Commit message.")
    String message;

    @Option(names = "--author", description = "Author (default: the user name).")
    String author;

    @Option(names = "--json", description = "Print a summary as JSON.")
    boolean json;

    @Override
    int run() throws Exception {
        DataDir dir = DataDir.of(opts.data == null ? null : path(opts.data));
        DType gd = switch (gramDtype.toLowerCase()) {
            case "f32" -> DType.F32;
            case "f16" -> DType.F16;
            default -> throw new dev.merit.error.InvalidInputException("--gram-dtype must be f32 or f16, got '" + gramDtype + "'");
        };
        try (Repository repo = openRepository()) {
            TrainRound round = this.round.configure(TrainRound.on(repo))
                    .setRegmean(regmean).setGramDtype(gd)
                    .setValues(CommitCli.parseValues(values)).setSeed(seed)
                    .setMessage(message);
            opts.spec().ifPresent(round::setModel);
            if (author != null) {
                round.setAuthor(author);
            }
            Examples data = this.round.select(dir);
            round.setData(data).setDevice(Engines.device(opts.device));
            boolean terminal = !json && !root.quiet && System.console() != null && System.console().isTerminal();
            if (terminal) {
                round.setListener(new Progress(err()));
            }
            TrainResult r = round.call();
            if (terminal) {
                err().println();
            }
            if (json) {
                ObjectNode n = JSON.createObjectNode();
                n.put("commit", r.commit().name());
                n.put("base", r.base().name());
                n.put("data", data.description());
                n.put("examples", data.size());
                n.put("steps", r.steps());
                n.put("final_loss", r.finalLoss());
                n.put("examples_per_second", r.examplesPerSecond());
                n.put("changed_entries", r.changedEntries());
                n.put("parameters", r.parameters());
                n.put("delta_bytes", r.deltaBytes());
                n.put("fisher_bytes", r.fisherBytes());
                n.put("gram_bytes", r.gramBytes());
                n.put("dense_bytes", r.denseBytes());
                n.put("mask_seconds", r.maskSeconds());
                n.put("train_seconds", r.trainSeconds());
                n.put("statistics_seconds", r.statisticsSeconds());
                printJson(n);
                return ExitCode.OK;
            }
            out().printf("[%s %s] %s%n", repo.currentBranch(), r.commit().abbreviate(12), message);
            out().printf("trained %d steps on %d examples (%s): final loss %.4f, %s examples/s%n", r.steps(), data.size(),
                    data.description(), r.finalLoss(), Format.num(r.examplesPerSecond()));
            out().printf("changed %d of %d entries; update %s (%s of the dense %s), Fisher %s%s%n",
                    r.changedEntries(), r.parameters(), Format.bytes(r.deltaBytes()),
                    Format.percent((double) r.deltaBytes() / r.denseBytes()), Format.bytes(r.denseBytes()),
                    Format.bytes(r.fisherBytes()), regmean ? ", Gram matrices " + Format.bytes(r.gramBytes()) : "");
        }
        return ExitCode.OK;
    }

    /** One line rewritten in place: phase, or step, loss and speed. */
    private static final class Progress implements TrainListener {
        private final PrintWriter err;
        private long lastPrint;

        Progress(PrintWriter err) {
            this.err = err;
        }

        @Override
        public void phase(String name) {
            err.print("\r\033[K" + name + "...");
            err.flush();
        }

        @Override
        public void step(int step, int steps, double loss, double examplesPerSecond) {
            long now = System.nanoTime();
            if (step == steps || now - lastPrint > 100_000_000L) {
                lastPrint = now;
                err.printf("\r\033[Kstep %d/%d  loss %.4f  %,.0f examples/s", step, steps, loss, examplesPerSecond);
                err.flush();
            }
        }
    }
}
