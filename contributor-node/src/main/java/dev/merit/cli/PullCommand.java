package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "pull", header = "Fetch the coordinator's version of a branch and move your branch to it.",
        description = {"Your branch moves if it has no commits since the last pull, or if every such commit was",
            "pushed as a proposal (the coordinator's version supersedes it); otherwise use --force."})
final class PullCommand extends BaseCommand {

    @Parameters(index = "0", arity = "0..1", defaultValue = "origin", paramLabel = "REMOTE", description = "Remote name or URL.")
    String remote;

    @Parameters(index = "1", arity = "0..1", paramLabel = "BRANCH", description = "Default: the current branch.")
    String branch;

    @Option(names = "--force", description = "Move the branch even over commits that were never pushed.")
    boolean force;

    @Mixin
    TokenOption auth;

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            LocalConfig cfg = new LocalConfig(repo);
            String br = branch != null ? branch : repo.currentBranch();
            RemoteBranch b;
            try (RemoteClient c = auth.connect(Optional.of(cfg), remote)) {
                b = c.fetch(repo, br, cfg.haves(), progress(false));
            }
            ObjectId remoteHead = b.head();
            Optional<ObjectId> lastFetched = cfg.tracking(remote, br);
            Optional<ObjectId> local = Optional.ofNullable(repo.branches().get(br));
            cfg.setTracking(remote, br, remoteHead);
            if (local.isPresent() && local.get().equals(remoteHead)) {
                out().println("Already up to date: " + br + " at " + remoteHead.abbreviate(12));
                return ExitCode.OK;
            }
            if (local.isPresent() && !force && !replaceable(repo, local.get(), lastFetched, remoteHead)) {
                throw new InvalidInputException("branch '" + br + "' has commits that were never pushed to " + remote
                        + "; push them first, or pull --force to replace them with " + remote + "'s version");
            }
            repo.updateBranch(br, local, remoteHead, "pull " + remote + " " + br);
            out().printf("%s is now %s/%s at %s (version %d)%n", br, remote, br, remoteHead.abbreviate(12), b.number());
        }
        return ExitCode.OK;
    }

    /** True if the local head is in the remote's history, or every commit since the last fetch was pushed. */
    private static boolean replaceable(Repository repo, ObjectId local, Optional<ObjectId> lastFetched, ObjectId remoteHead) {
        for (var e : repo.log(remoteHead, Integer.MAX_VALUE)) {
            if (e.getKey().equals(local)) {
                return true;
            }
        }
        if (lastFetched.isEmpty()) {
            return false;
        }
        ObjectId at = local;
        for (int i = 0; i < 10_000 && !at.equals(lastFetched.get()); i++) {
            if (repo.getRecord("pushed", at.name()).isEmpty()) {
                return false;
            }
            List<ObjectId> ps = repo.readCommit(at).parents();
            if (ps.isEmpty()) {
                return false;
            }
            at = ps.get(0);
        }
        return at.equals(lastFetched.get());
    }
}
