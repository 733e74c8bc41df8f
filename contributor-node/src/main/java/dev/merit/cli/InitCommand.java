package dev.merit.cli;

import dev.merit.safetensors.Safetensors;
import dev.merit.store.CommitResult;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "init", header = "Create a repository, optionally with a first version.")
final class InitCommand extends BaseCommand {

    @Option(names = "--from", paramLabel = "FILE", description = "Record FILE (safetensors or *.safetensors.index.json) as the first commit.")
    Path from;

    @Option(names = "--model", paramLabel = "SPEC",
            description = "Commit a freshly initialised model (PyTorch's default initialisation) as the first version: "
                    + "mlp:784-256-128-10 or cnn[:WIDTH]. The spec is recorded in the version's metadata.")
    String model;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the initialisation with --model (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = {"-m", "--message"}, description = "Message of the first commit (with --from or --model).")
    String message;

    @Parameters(arity = "0..1", paramLabel = "DIR", description = "Where to create it (default: the current directory).")
    Path dir;

    @Override
    int run() {
        Path target = dir == null ? workDir() : path(dir);
        // Validate the first version before creating anything, so a bad file leaves no repository behind.
        if (from != null && model != null) {
            throw new dev.merit.error.InvalidInputException("give --from FILE or --model SPEC, not both");
        }
        TensorSource first = from != null ? Safetensors.open(existingFile(from))
                : model != null ? dev.merit.train.ModelSpec.parse(model).initialize(seed) : null;
        try (first; Repository repo = Repository.init(target)) {
            out().println("Initialized empty Merit repository in " + target.resolve(Repository.DIR_NAME));
            if (first != null) {
                CommitResult r = repo.commit().setSource(first)
                        .setMessage(message != null ? message
                                : from != null ? "Import " + from.getFileName() : "Initialise " + model + " (seed " + seed + ")")
                        .setProgress(progress(false)).call();
                out().printf("[%s %s] %s%n", repo.currentBranch(), r.id().abbreviate(12), r.commit().message());
                out().printf("%d tensors, stored %s%n", first.tensors().size(), Format.bytes(r.commit().storedBytes()));
            }
        }
        return ExitCode.OK;
    }
}
