package dev.merit.cli;

import dev.merit.store.Repository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "switch", header = "Make another branch the current one.")
final class SwitchCommand extends BaseCommand {

    @Option(names = {"-c", "--create"}, description = "Create the branch at HEAD first.")
    boolean create;

    @Parameters(index = "0", paramLabel = "NAME", description = "The branch to make current.")
    String name;

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            if (create) {
                repo.createBranch(name, repo.resolve("HEAD"));
            }
            repo.switchBranch(name);
            out().println("Switched to branch " + name);
        }
        return ExitCode.OK;
    }
}
