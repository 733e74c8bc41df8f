package dev.merit.cli;

import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The {@code --token} option of commands that call a coordinator, and the connection it opens. */
final class TokenOption {

    @Option(names = "--token", description = "Token (else MERIT_TOKEN, else the remote's).")
    String token;

    RemoteClient connect(Optional<LocalConfig> cfg, String remoteOrUrl) {
        return RemoteSupport.connect(token, cfg, remoteOrUrl);
    }
}
