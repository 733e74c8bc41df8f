package dev.merit.cli;

import dev.merit.wire.Ed25519;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.store.Repository;
import java.security.KeyPair;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "key", header = "Your proposal-signing key: key register [REMOTE] (creates it if needed), key show.",
        subcommands = {KeyCommand.Register.class, KeyCommand.Show.class})
// Not a command of its own: picocli reports a missing subcommand as a usage error.
final class KeyCommand {

    @Command(name = "register", header = "Register your Ed25519 key with a coordinator (creating the key if needed).")
    static final class Register extends BaseCommand {

        @Parameters(index = "0", arity = "0..1", paramLabel = "REMOTE", defaultValue = "origin",
                description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--token", description = "Your token (else MERIT_TOKEN, else the remote's).")
        String token;

        @Override
        int run() {
            try (Repository repo = openRepository()) {
                LocalConfig cfg = new LocalConfig(repo);
                KeyPair kp = cfg.signingKey();
                String fp = Ed25519.fingerprint(kp.getPublic().getEncoded());
                try (RemoteClient c = RemoteSupport.connect(token, Optional.of(cfg), remote)) {
                    String who = c.whoAmI().name();
                    c.registerKey(kp.getPublic().getEncoded());
                    out().println("Registered key " + fp + " for " + who + " on " + remote);
                }
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "show", header = "Print your key's fingerprint (creating the key if needed).")
    static final class Show extends BaseCommand {

        @Override
        int run() {
            try (Repository repo = openRepository()) {
                KeyPair kp = new LocalConfig(repo).signingKey();
                out().println("Ed25519 key " + Ed25519.fingerprint(kp.getPublic().getEncoded()));
            }
            return ExitCode.OK;
        }
    }
}
