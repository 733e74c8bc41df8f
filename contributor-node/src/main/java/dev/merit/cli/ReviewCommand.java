package dev.merit.cli;

import dev.merit.remote.RemoteProposal;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.store.Repository;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "review", header = "Approve (merge) or reject an accepted proposal (maintainers).",
        subcommands = {ReviewCommand.Approve.class, ReviewCommand.Reject.class})
// Not a command of its own: picocli reports a missing subcommand as a usage error.
final class ReviewCommand {

    /** What approving and rejecting share: the proposal, the reason and the coordinator. */
    abstract static class Decision extends BaseCommand {

        @Parameters(index = "0", paramLabel = "ID", description = "Proposal id, e.g. p17.")
        String id;

        @Option(names = {"-m", "--message"}, description = "Why.")
        String message;

        @Option(names = "--remote", defaultValue = "origin", description = "Remote name or URL (default: origin).")
        String remote;

        @Mixin
        TokenOption auth;

        int decide(boolean approve) {
            Repository repo = RemoteSupport.looksLikeUrl(remote) ? null : openRepository();
            try (repo; RemoteClient c = auth.connect(Optional.ofNullable(repo).map(LocalConfig::new), remote)) {
                RemoteProposal p = c.review(id, approve, message);
                RemoteSupport.print(out(), p, false);
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "approve", header = "Approve a proposal: the coordinator merges it.")
    static final class Approve extends Decision {
        @Override
        int run() {
            return decide(true);
        }
    }

    @Command(name = "reject", header = "Reject a proposal: it is never merged.")
    static final class Reject extends Decision {
        @Override
        int run() {
            return decide(false);
        }
    }
}
