package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.store.Repository;
import dev.merit.wire.Ed25519;
import java.security.KeyPair;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "key", header = "Your proposal-signing key: key register [REMOTE] (creates it if needed), key show.")
final class KeyCommand extends BaseCommand {

    @Parameters(index = "0", paramLabel = "register|show")
    String action;

    @Parameters(index = "1", arity = "0..1", paramLabel = "REMOTE", defaultValue = "origin")
    String remote;

    @Option(names = "--token", description = "Your token (else MERIT_TOKEN, else the remote's).")
    String token;

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            LocalConfig cfg = new LocalConfig(repo);
            KeyPair kp = cfg.signingKey();
            String fp = Ed25519.fingerprint(kp.getPublic().getEncoded());
            switch (action) {
                case "show" -> out().println("Ed25519 key " + fp);
                case "register" -> {
                    try (RemoteClient c = RemoteSupport.connect(token, Optional.of(cfg), remote)) {
                        String who = c.whoAmI().name();
                        c.registerKey(kp.getPublic().getEncoded());
                        out().println("Registered key " + fp + " for " + who + " on " + remote);
                    }
                }
                default -> throw new InvalidInputException("unknown action '" + action + "' (register, show)");
            }
        }
        return ExitCode.OK;
    }
}
