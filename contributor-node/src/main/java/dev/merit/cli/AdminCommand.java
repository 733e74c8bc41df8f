package dev.merit.cli;

import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.store.Repository;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "admin", header = "Coordinator administration (maintainers): admin backup DIR.",
        subcommands = AdminCommand.Backup.class)
// Not a command of its own: picocli reports a missing subcommand as a usage error.
final class AdminCommand {

    @Command(name = "backup", header = "Back the running coordinator's store up into DIR on its machine; restore by serving DIR.")
    static final class Backup extends BaseCommand {

        @Parameters(index = "0", paramLabel = "DIR",
                description = "Directory on the coordinator's machine (must not exist or be empty); a relative path is taken from here.")
        String directory;

        @Option(names = "--remote", defaultValue = "origin", description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--token", description = "Your own token (else MERIT_TOKEN, else the remote's).")
        String token;

        @Option(names = "--json", description = "Print the result as JSON.")
        boolean json;

        @Override
        int run() {
            // The coordinator resolves nothing against its own working directory: send an absolute path.
            String target = workDir().resolve(Path.of(directory)).toAbsolutePath().normalize().toString();
            Repository repo = RemoteSupport.looksLikeUrl(remote) ? null : openRepository();
            try (repo; RemoteClient c = RemoteSupport.connect(token, Optional.ofNullable(repo).map(LocalConfig::new), remote)) {
                RemoteClient.Backup b = c.backup(target);
                if (json) {
                    out().println(JSON.createObjectNode().put("directory", b.directory()).put("bytes", b.bytes()));
                } else {
                    out().printf("Backed up the coordinator into %s (%d bytes); restore: merit serve --data %s%n",
                            b.directory(), b.bytes(), b.directory());
                }
            }
            return ExitCode.OK;
        }
    }
}
