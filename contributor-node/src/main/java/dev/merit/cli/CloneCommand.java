package dev.merit.cli;

import dev.merit.remote.LocalConfig;
import dev.merit.remote.Remote;
import dev.merit.remote.RemoteTrust;
import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "clone", header = "Copy a coordinator's branch into a new repository (remote 'origin').")
final class CloneCommand extends BaseCommand {

    @Parameters(index = "0", paramLabel = "URL", description = "merit://HOST:PORT, or merits://HOST:PORT for TLS")
    String url;

    @Parameters(index = "1", paramLabel = "DIR", description = "New directory for the repository.")
    Path dir;

    @Option(names = {"-b", "--branch"}, defaultValue = "main", description = "Branch to clone (default: main).")
    String branch;

    @Option(names = "--token", description = "Token (else MERIT_TOKEN); kept as origin's token.")
    String token;

    @Mixin
    TrustOptions trust;

    @Override
    int run() {
        String tok = RemoteSupport.token(token, Optional.empty(), url);
        RemoteTrust t = trust.trust(this);
        Remote remote = Remote.of(url, t);
        Path target = path(dir);
        try (RemoteClient c = RemoteClient.connect(remote, tok)) {
            // One call before the directory is made: a refused handshake or token leaves nothing behind.
            c.branches();
            clone(c, target, t);
        }
        return ExitCode.OK;
    }

    private void clone(RemoteClient c, Path target, RemoteTrust t) {
        try (Repository repo = Repository.init(target)) {
            LocalConfig cfg = new LocalConfig(repo);
            cfg.addRemote("origin", url, token, t);
            RemoteBranch b = c.fetch(repo, branch, List.of(), progress(false));
            ObjectId head = b.head();
            cfg.setTracking("origin", branch, head);
            repo.updateBranch(branch, Optional.empty(), head, "clone " + url);
            if (!branch.equals(repo.currentBranch())) {
                repo.switchBranch(branch);
            }
            out().printf("Cloned %s into %s: %s at %s (version %d)%n", url, target, branch, head.abbreviate(12), b.number());
        }
    }
}
