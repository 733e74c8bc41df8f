package dev.merit.cli;

import dev.merit.store.Repository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "tag", header = "List tags, or tag REV (default HEAD) as NAME.")
final class TagCommand extends BaseCommand {

    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", description = "Tag to create; none lists tags.")
    String name;

    @Parameters(index = "1", arity = "0..1", paramLabel = "REV", description = "The version to tag.")
    String rev = "HEAD";

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            if (name == null) {
                repo.tags().forEach((t, id) -> out().println(t + " " + id.abbreviate(12)));
            } else {
                var id = repo.resolve(rev);
                repo.createTag(name, id);
                out().println("Tagged " + id.abbreviate(12) + " as " + name);
            }
        }
        return ExitCode.OK;
    }
}
