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

    @Option(names = {"-m", "--message"}, description = "Message of the first commit (with --from).")
    String message;

    @Parameters(arity = "0..1", paramLabel = "DIR", description = "Where to create it (default: the current directory).")
    Path dir;

    @Override
    int run() {
        Path target = dir == null ? workDir() : path(dir);
        // Validate the first version before creating anything, so a bad file leaves no repository behind.
        TensorSource first = from == null ? null : Safetensors.open(existingFile(from));
        try (first; Repository repo = Repository.init(target)) {
            out().println("Initialized empty Merit repository in " + target.resolve(Repository.DIR_NAME));
            if (first != null) {
                CommitResult r = repo.commit().setSource(first)
                        .setMessage(message != null ? message : "Import " + from.getFileName())
                        .setProgress(progress(false)).call();
                out().printf("[%s %s] %s%n", repo.currentBranch(), r.id().abbreviate(12), r.commit().message());
                out().printf("%d tensors, stored %s%n", first.tensors().size(), Format.bytes(r.commit().storedBytes()));
            }
        }
        return ExitCode.OK;
    }
}
