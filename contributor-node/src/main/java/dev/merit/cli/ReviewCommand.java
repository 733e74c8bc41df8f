package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteProposal;
import dev.merit.store.Repository;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "review", header = "Approve (merge) or reject an accepted proposal (maintainers).")
final class ReviewCommand extends BaseCommand {

    @Parameters(index = "0", paramLabel = "approve|reject")
    String decision;

    @Parameters(index = "1", paramLabel = "ID", description = "Proposal id, e.g. p17.")
    String id;

    @Option(names = {"-m", "--message"}, description = "Why.")
    String message;

    @Option(names = "--remote", defaultValue = "origin", description = "Remote name or URL (default: origin).")
    String remote;

    @Mixin
    TokenOption auth;

    @Override
    int run() {
        boolean approve = switch (decision) {
            case "approve" -> true;
            case "reject" -> false;
            default -> throw new InvalidInputException("review '" + decision + "': expected approve or reject");
        };
        Repository repo = RemoteSupport.looksLikeUrl(remote) ? null : openRepository();
        try (repo; RemoteClient c = auth.connect(Optional.ofNullable(repo).map(LocalConfig::new), remote)) {
            RemoteProposal p = c.review(id, approve, message);
            RemoteSupport.print(out(), p, false);
        }
        return ExitCode.OK;
    }
}
