package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.store.Repository;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "remote", header = "Name coordinators: remote add NAME URL [--token T], remote list.")
final class RemoteCli extends BaseCommand {

    @Parameters(index = "0", paramLabel = "add|list")
    String action;

    @Parameters(index = "1..*", paramLabel = "ARGS", description = "add: NAME URL (URL is merit://HOST:PORT)")
    List<String> args = List.of();

    @Option(names = "--token", description = "Token to use with this remote (kept in the repository).")
    String token;

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            LocalConfig cfg = new LocalConfig(repo);
            switch (action) {
                case "add" -> {
                    if (args.size() != 2) {
                        throw new InvalidInputException("usage: merit remote add NAME URL");
                    }
                    cfg.addRemote(args.get(0), args.get(1), token);
                    out().println("Added remote " + args.get(0) + " " + args.get(1));
                }
                case "list" -> cfg.remotes().forEach((n, u) -> out().println(n + "\t" + u));
                default -> throw new InvalidInputException("unknown action '" + action + "' (add, list)");
            }
        }
        return ExitCode.OK;
    }
}
