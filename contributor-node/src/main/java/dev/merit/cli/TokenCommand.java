package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteIdentity;
import dev.merit.store.Repository;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "token", header = "Create an access token on a coordinator (maintainers): token create --name N --role R.")
final class TokenCommand extends BaseCommand {

    @Parameters(index = "0", paramLabel = "create")
    String action;

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
        if (!action.equals("create")) {
            throw new InvalidInputException("unknown action '" + action + "' (create)");
        }
        RemoteIdentity.Role r = switch (role.toLowerCase(Locale.ROOT)) {
            case "reader" -> RemoteIdentity.Role.READER;
            case "contributor" -> RemoteIdentity.Role.CONTRIBUTOR;
            case "maintainer" -> RemoteIdentity.Role.MAINTAINER;
            default -> throw new InvalidInputException("unknown role '" + role + "' (reader, contributor, maintainer)");
        };
        Repository repo = RemoteSupport.looksLikeUrl(remote) ? null : openRepository();
        try (repo; RemoteClient c = RemoteSupport.connect(token, Optional.ofNullable(repo).map(LocalConfig::new), remote)) {
            out().println(c.createToken(name, r));
        }
        return ExitCode.OK;
    }
}
