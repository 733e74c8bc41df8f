package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.safetensors.Safetensors;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import dev.merit.train.Engines;
import dev.merit.train.Evaluator;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "eval", header = "Accuracy and mean loss of a version or a safetensors file on the test split.")
final class EvalCommand extends BaseCommand {

    @Parameters(arity = "0..1", paramLabel = "REV|FILE", description = "A revision (default HEAD) or a safetensors file.")
    String target;

    @Mixin
    TrainingOptions opts;

    @Option(names = "--split", paramLabel = "test|val", defaultValue = "test",
            description = "The test images, or the validation split held out of the training images (default ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Override
    int run() throws Exception {
        String what = target == null ? "HEAD" : target;
        DataDir dir = DataDir.of(opts.data == null ? null : path(opts.data));
        Examples examples = switch (split) {
            case "test" -> dir.test().all();
            case "val" -> ShardSpec.validation(dir.train());
            default -> throw new dev.merit.error.InvalidInputException("--split must be test or val, got '" + split + "'");
        };
        Path file = path(Path.of(what));
        Evaluator.Result r;
        if (Files.isRegularFile(file)) {
            try (TensorSource s = Safetensors.open(file)) {
                r = Evaluator.evaluate(s, opts.spec(), examples, Engines.device(opts.device));
            }
        } else {
            try (Repository repo = openRepository(); TensorSource s = Sources.open(repo, workDir(), what)) {
                r = Evaluator.evaluate(s, opts.spec(), examples, Engines.device(opts.device));
            }
        }
        if (json) {
            ObjectNode n = JSON.createObjectNode();
            n.put("model", what);
            n.put("spec", r.model());
            n.put("data", r.data());
            n.put("examples", r.examples());
            n.put("accuracy", r.accuracy());
            n.put("mean_loss", r.meanLoss());
            printJson(n);
        } else {
            out().printf("%s (%s) on %s: accuracy %.2f%%, mean loss %.4f over %d examples%n", what, r.model(), r.data(),
                    100 * r.accuracy(), r.meanLoss(), r.examples());
        }
        return ExitCode.OK;
    }
}
