package dev.merit.cli;

import dev.merit.codec.ValueCoding;
import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.NothingToProposeException;
import dev.merit.remote.ProposalUpload;
import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteProposal;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "push", header = "Propose your commits since the remote's version (or publish a new branch).",
        description = {"If the coordinator does not have BRANCH yet, push publishes it (maintainers). Otherwise the",
            "change from the remote's version to your branch head is sent as one signed proposal, validated",
            "and merged by the coordinator's policy. Exit code 5 if it is rejected."})
final class PushCommand extends BaseCommand {

    @Parameters(index = "0", arity = "0..1", defaultValue = "origin", paramLabel = "REMOTE", description = "Remote name or URL.")
    String remote;

    @Parameters(index = "1", arity = "0..1", paramLabel = "BRANCH", description = "Default: the current branch.")
    String branch;

    @Option(names = "--values", defaultValue = "exact", description = "Value coding: exact (default), fp16, bf16 or int8.")
    String values;

    @Option(names = "--examples", defaultValue = "0", description = "Training examples behind the change (merge weight).")
    long examples;

    @Option(names = {"-m", "--message"}, description = "Proposal message (default: the head commit's).")
    String message;

    @Mixin
    TokenOption auth;

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            LocalConfig cfg = new LocalConfig(repo);
            String br = branch != null ? branch : repo.currentBranch();
            ObjectId head = repo.resolve("refs/heads/" + br);
            ValueCoding coding = CommitCli.parseValues(values); // a bad --values fails before any network call
            try (RemoteClient c = auth.connect(Optional.of(cfg), remote)) {
                Optional<RemoteBranch> there = c.branch(br);
                if (there.isEmpty()) {
                    RemoteClient.PublishResult r = c.publish(repo, br, head, progress(false));
                    cfg.setTracking(remote, br, head);
                    out().printf("Published %s at %s to %s (%d objects)%n", br, head.abbreviate(12), remote, r.objectsImported());
                    return ExitCode.OK;
                }
                ObjectId base = cfg.tracking(remote, br).orElseThrow(() -> new InvalidInputException(
                        "no version of " + remote + "/" + br + " here to propose against: run merit pull " + remote + " " + br));
                if (base.equals(head)) {
                    out().println("Everything up to date: " + br + " is " + remote + "/" + br);
                    return ExitCode.OK;
                }
                Commit hc = repo.readCommit(head);
                ProposalUpload u;
                try {
                    u = CommitProposal.build(repo, cfg, base, head, br, c.whoAmI().name(), examples,
                            message != null ? message : hc.message(), coding);
                } catch (NothingToProposeException e) {
                    // Commits since the pull that leave the weights as they were: say so in the user's terms.
                    out().printf("nothing to propose: %s has no changes since %s/%s (version %d)%n", br, remote, br, versionNumber(repo, base));
                    return ExitCode.OK;
                }
                RemoteClient.PushResult r = c.push(u, progress(false));
                markPushed(repo, head);
                RemoteSupport.print(out(), r.proposal(), true);
                if (u.spec().hasGram()) {
                    out().printf("  sent %s: delta and Fisher %s, Gram matrices %s (%d layers)%n", Format.bytes(u.payloadBytes()),
                            Format.bytes(u.payloadBytes() - u.spec().gramBytes()), Format.bytes(u.spec().gramBytes()),
                            u.spec().grams().size());
                }
                if (r.resumedFrom() > 0) {
                    out().printf("  (upload resumed at byte %d)%n", r.resumedFrom());
                }
                return r.proposal().status() == RemoteProposal.Status.REJECTED ? ExitCode.REJECTED : ExitCode.OK;
            }
        }
    }

    /** A commit's version number as the coordinator counts it: its first-parent depth (the first commit is 0). */
    static long versionNumber(Repository repo, ObjectId commit) {
        long n = 0;
        for (List<ObjectId> ps = repo.readCommit(commit).parents(); !ps.isEmpty(); ps = repo.readCommit(ps.get(0)).parents()) {
            n++;
        }
        return n;
    }

    /** Remembers that this commit went out as a proposal, so pull may replace it with the coordinator's version. */
    static void markPushed(Repository repo, ObjectId commit) {
        try (var tx = repo.newTransaction()) {
            tx.putRecord("pushed", commit.name(), new byte[0]);
            tx.commit();
        }
    }
}
