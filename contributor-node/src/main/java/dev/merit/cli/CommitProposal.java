package dev.merit.cli;

import dev.merit.codec.EncodeOptions;
import dev.merit.codec.ValueCoding;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.ProposalBuilder;
import dev.merit.remote.ProposalUpload;
import dev.merit.safetensors.Safetensors;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.PrivateKey;

/**
 * The signed proposal for the change from {@code base} to {@code head}, with the head commit's
 * Fisher when it has one. The same commits always give the same digest (no clock, no nonce), which
 * is how the daemon recognises a proposal it already sent.
 */
public final class CommitProposal {

    private CommitProposal() {}

    static ProposalUpload build(Repository repo, LocalConfig cfg, ObjectId base, ObjectId head, String branch, String who,
                                long examples, String message, ValueCoding values) {
        return build(repo, cfg.privateKey(), base, head, branch, who, examples, message, values);
    }

    /**
     * As {@code merit push} and the daemon build it, signed with {@code key} instead of the
     * repository's own (the load harness simulates many contributors over one local store).
     */
    public static ProposalUpload build(Repository repo, PrivateKey key, ObjectId base, ObjectId head, String branch, String who,
                                       long examples, String message, ValueCoding values) {
        return build(repo, key, base, head, branch, who, examples, message, values, true, true);
    }

    /**
     * As above, attaching the head's Fisher and Gram matrices only where asked (and present): a
     * merge that does not use them need not receive their bytes.
     */
    public static ProposalUpload build(Repository repo, PrivateKey key, ObjectId base, ObjectId head, String branch, String who,
                                       long examples, String message, ValueCoding values,
                                       boolean attachFisher, boolean attachGram) {
        Path fisherFile = null;
        try (SafetensorsFile b = repo.openVersion(base); SafetensorsFile h = repo.openVersion(head)) {
            ProposalBuilder pb = new ProposalBuilder(b, h).encoding(EncodeOptions.defaults().withValues(values));
            TensorSource fisher = null;
            if (attachFisher && repo.readCommit(head).fisher().isPresent()) {
                fisherFile = Files.createTempFile("merit-fisher-", ".safetensors");
                repo.checkoutFisher(head, fisherFile);
                fisher = Safetensors.open(fisherFile);
                pb.fisher(fisher);
            }
            // The head's Gram matrices (merit train --regmean) travel with it, for regmean merges.
            java.util.Optional<SafetensorsFile> gram = attachGram ? repo.openGram(head) : java.util.Optional.empty();
            gram.ifPresent(pb::gram);
            try (TensorSource f = fisher; TensorSource g = gram.orElse(null)) {
                return pb.build(branch, base.name(), who, examples, message, key);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            if (fisherFile != null) {
                try {
                    Files.deleteIfExists(fisherFile);
                } catch (IOException ignored) {
                    // a temp file left behind is harmless
                }
            }
        }
    }
}
