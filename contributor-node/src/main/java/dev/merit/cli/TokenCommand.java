package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.store.Repository;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "token", header = "Access tokens on a coordinator (maintainers): token create --name N --role R.",
        subcommands = TokenCommand.Create.class)
// Not a command of its own: picocli reports a missing subcommand as a usage error.
final class TokenCommand {

    @Command(name = "create", header = "Create a token and print it (it is shown only this once).")
    static final class Create extends BaseCommand {

        @Option(names = "--name", required = true, description = "Who the token is for (the contributor name).")
        String name;

        @Option(names = "--role", required = true, description = "reader, contributor or maintainer.")
        String role;

        @Option(names = "--remote", defaultValue = "origin", description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--token", description = "Your own token (else MERIT_TOKEN, else the remote's).")
        String token;

        @Override
        int run() {
            dev.merit.remote.RemoteIdentity.Role r = switch (role.toLowerCase(Locale.ROOT)) {
                case "reader" -> dev.merit.remote.RemoteIdentity.Role.READER;
                case "contributor" -> dev.merit.remote.RemoteIdentity.Role.CONTRIBUTOR;
                case "maintainer" -> dev.merit.remote.RemoteIdentity.Role.MAINTAINER;
                default -> throw new InvalidInputException("unknown role '" + role + "' (reader, contributor, maintainer)");
            };
            Repository repo = RemoteSupport.looksLikeUrl(remote) ? null : openRepository();
            try (repo; RemoteClient c = RemoteSupport.connect(token, Optional.ofNullable(repo).map(LocalConfig::new), remote)) {
                out().println(c.createToken(name, r));
            }
            return ExitCode.OK;
        }
    }
}
