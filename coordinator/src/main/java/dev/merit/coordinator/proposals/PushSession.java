package dev.merit.coordinator.proposals;

import dev.merit.coordinator.validate.CheckResult;
import dev.merit.coordinator.validate.Ingest;
import dev.merit.coordinator.validate.Rejection;
import dev.merit.wire.ProposalSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One stream of a proposal's upload. Feed it the payload with {@link #accept}; it stages the
 * bytes (for resuming) and checks them as they come. Once {@link #result()} is present the
 * proposal is decided and the session ignores further input.
 */
public final class PushSession implements AutoCloseable {

    private static final int REPLAY_PIECE = 1 << 20;

    private final ProposalService service;
    private final ProposalSpec spec;
    private final Uploads.Upload upload;
    private final Ingest ingest;
    private final List<CheckResult> checks;
    private final long resumedFrom;
    private ProposalRecord result;

    PushSession(ProposalService service, ProposalSpec spec, Uploads.Upload upload, Ingest ingest, List<CheckResult> checks, long resumedFrom) {
        this.service = service;
        this.spec = spec;
        this.upload = upload;
        this.ingest = ingest;
        this.checks = new ArrayList<>(checks);
        this.resumedFrom = resumedFrom;
    }

    /** A session already decided before any payload: a header rejection, or a repeat of a stored proposal. */
    static PushSession decided(ProposalRecord r) {
        PushSession s = new PushSession(null, null, null, null, List.of(), 0);
        s.result = r;
        return s;
    }

    public Optional<ProposalRecord> result() {
        return Optional.ofNullable(result);
    }

    public long resumedFrom() {
        return resumedFrom;
    }

    /** Re-checks the bytes an earlier stream left behind, so a resumed upload is validated whole. */
    void replay() {
        for (long at = 0; at < resumedFrom && result == null; at += REPLAY_PIECE) {
            int n = (int) Math.min(REPLAY_PIECE, resumedFrom - at);
            byte[] b = upload.read(at, n);
            check(b);
        }
    }

    /** Stages and checks the next payload piece; returns the result if this decided the proposal. */
    public Optional<ProposalRecord> accept(byte[] data) {
        if (result != null) {
            return result();
        }
        upload.append(data);
        check(data);
        return result();
    }

    private void check(byte[] data) {
        try {
            ingest.accept(data, 0, data.length);
        } catch (Rejection r) {
            fail(r);
        }
    }

    private void fail(Rejection r) {
        checks.add(CheckResult.fail(r));
        ingest.close();
        upload.discard();
        result = service.reject(spec, checks, r);
    }

    /** The client finished sending: final checks, then the proposal is stored. */
    public ProposalRecord finish() {
        if (result != null) {
            return result;
        }
        try {
            upload.sync();
            Ingest.Summary sum = ingest.finish();
            result = service.complete(spec, sum, upload, checks);
        } catch (Rejection r) {
            fail(r);
        }
        return result;
    }

    /** The stream broke: keep the staged bytes for a resume. */
    @Override
    public void close() {
        if (ingest != null) {
            ingest.close();
        }
        if (upload != null) {
            upload.close();
        }
    }
}
