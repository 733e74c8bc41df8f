package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.store.Repository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "branch", header = "List branches, create one (at REV, default HEAD), or delete one (-d).")
final class BranchCommand extends BaseCommand {

    @Option(names = {"-d", "--delete"}, description = "Delete the named branch.")
    boolean delete;

    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", description = "Branch to create (or with -d, to delete); none lists branches.")
    String name;

    @Parameters(index = "1", arity = "0..1", paramLabel = "REV", description = "Where the new branch starts.")
    String rev = "HEAD";

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            if (delete) {
                if (name == null) {
                    throw new InvalidInputException("branch -d needs a branch name");
                }
                repo.deleteBranch(name);
                out().println("Deleted branch " + name);
            } else if (name != null) {
                var id = repo.resolve(rev);
                repo.createBranch(name, id);
                out().println("Created branch " + name + " at " + id.abbreviate(12));
            } else {
                String current = repo.currentBranch();
                var branches = repo.branches();
                branches.forEach((b, id) -> out().println((b.equals(current) ? "* " : "  ") + b + " " + id.abbreviate(12)));
                if (!branches.containsKey(current)) {
                    out().println("* " + current + " (no commits yet)");
                }
            }
        }
        return ExitCode.OK;
    }
}
