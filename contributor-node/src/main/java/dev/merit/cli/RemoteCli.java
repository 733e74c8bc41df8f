package dev.merit.cli;

import dev.merit.remote.LocalConfig;
import dev.merit.store.Repository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "remote", header = "Name coordinators: remote add NAME URL, remote list (also without a subcommand).",
        subcommands = {RemoteCli.Add.class, RemoteCli.ListRemotes.class})
final class RemoteCli extends BaseCommand {

    @Override
    int run() {
        return ListRemotes.list(this);
    }

    @Command(name = "add", header = "Name a coordinator, optionally with the token to use with it.")
    static final class Add extends BaseCommand {

        @Parameters(index = "0", paramLabel = "NAME", description = "The remote's name, e.g. origin.")
        String name;

        @Parameters(index = "1", paramLabel = "URL", description = "The coordinator: merit://HOST:PORT, or merits://HOST:PORT for TLS.")
        String url;

        @Option(names = "--token", description = "Token to use with this remote (kept in the repository).")
        String token;

        @Mixin
        TrustOptions trust;

        @Override
        int run() {
            var t = trust.trust(this);
            try (Repository repo = openRepository()) {
                new LocalConfig(repo).addRemote(name, url, token, t);
                out().println("Added remote " + name + " " + url + trust.describe(t));
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "list", header = "List the named coordinators, one NAME<TAB>URL per line (then how TLS is checked, if pinned or by a CA file).")
    static final class ListRemotes extends BaseCommand {

        @Override
        int run() {
            return list(this);
        }

        static int list(BaseCommand command) {
            try (Repository repo = command.openRepository()) {
                LocalConfig cfg = new LocalConfig(repo);
                cfg.remotes().forEach((n, u) -> command.out().println(n + "\t" + u + cfg.trustDescription(n).map(t -> "\t" + t).orElse("")));
            }
            return ExitCode.OK;
        }
    }
}
