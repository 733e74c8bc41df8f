package dev.merit.cli;

import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "checkout", header = "Write a version out as a safetensors file.")
final class CheckoutCommand extends BaseCommand {

    @Parameters(index = "0", paramLabel = "REV", description = "The version to write out.")
    String rev;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.safetensors", description = "File to write.")
    Path output;

    @Option(names = "--fisher-output", paramLabel = "FILE", description = "Also write the commit's attached Fisher.")
    Path fisherOutput;

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            ObjectId id = repo.resolve(rev);
            Path out = path(output);
            repo.checkout(id, out, progress(false));
            out().println("wrote " + id.abbreviate(12) + " to " + output);
            if (fisherOutput != null) {
                if (!repo.checkoutFisher(id, path(fisherOutput))) {
                    throw new dev.merit.error.NotFoundException("commit " + id.abbreviate(12) + " has no Fisher attached");
                }
                out().println("wrote its Fisher to " + fisherOutput);
            }
        }
        return ExitCode.OK;
    }
}
