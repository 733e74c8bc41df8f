package dev.merit.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteProposal;
import dev.merit.store.Repository;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "proposals", header = "List proposals on a coordinator (yours; every one for maintainers).")
final class ProposalsCommand extends BaseCommand {

    @Parameters(index = "0", arity = "0..1", defaultValue = "origin", paramLabel = "REMOTE", description = "Remote name or URL.")
    String remote;

    @Option(names = {"-b", "--branch"}, defaultValue = "", description = "Only this branch.")
    String branch;

    @Option(names = "--status", description = "accepted, rejected or merged.")
    String status;

    @Option(names = {"-n", "--limit"}, defaultValue = "50", paramLabel = "N", description = "Show at most N proposals.")
    int limit;

    @Option(names = {"-v", "--verbose"}, description = "Show every check.")
    boolean verbose;

    @Mixin
    TokenOption auth;

    @Override
    int run() {
        Optional<RemoteProposal.Status> st = status == null ? Optional.empty() : Optional.of(switch (status.toLowerCase(Locale.ROOT)) {
            case "accepted" -> RemoteProposal.Status.ACCEPTED;
            case "rejected" -> RemoteProposal.Status.REJECTED;
            case "merged" -> RemoteProposal.Status.MERGED;
            default -> throw new InvalidInputException("--status '" + status + "': expected accepted, rejected or merged");
        });
        Repository repo = RemoteSupport.looksLikeUrl(remote) ? null : openRepository();
        try (repo; RemoteClient c = auth.connect(Optional.ofNullable(repo).map(LocalConfig::new), remote)) {
            List<RemoteProposal> ps = c.proposals(branch, st, limit);
            if (ps.isEmpty()) {
                out().println("No proposals.");
            }
            for (RemoteProposal p : ps) {
                RemoteSupport.print(out(), p, verbose);
            }
        }
        return ExitCode.OK;
    }
}
