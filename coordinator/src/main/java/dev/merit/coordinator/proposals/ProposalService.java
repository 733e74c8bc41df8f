package dev.merit.coordinator.proposals;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.validate.CheckResult;
import dev.merit.coordinator.validate.Ingest;
import dev.merit.coordinator.validate.NumbersCheck;
import dev.merit.coordinator.validate.Rejection;
import dev.merit.coordinator.validate.SignatureCheck;
import dev.merit.coordinator.validate.StalenessCheck;
import dev.merit.coordinator.validate.ValidationChain;
import dev.merit.error.NotFoundException;
import dev.merit.store.ObjectId;
import dev.merit.wire.ProposalSpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Receives proposals: checks the caller, runs the {@link ValidationChain} on the header before
 * any payload, on the payload as it streams and once it is whole; stores the proposal as accepted
 * (with its payload, in one batch with its event) or rejected (with its reasons), and hands
 * accepted ones to the merge policy. Nothing about a branch head changes here.
 */
public final class ProposalService {

    /** What the merge policy does with a freshly accepted proposal; returns it as it then stands. */
    public interface AcceptListener {
        ProposalRecord accepted(ProposalRecord r);
    }

    private final ProposalLedger ledger;
    private final ProposalStore store;
    private final Uploads uploads;
    private final ValidationChain validation;
    private final StalenessCheck staleness;
    private final Function<String, ObjectId> headOf;
    private final AcceptListener policy;
    private final Consumer<ProposalRecord> decided;
    private final PushRateLimiter pushRate;

    /**
     * @param headOf   a branch's head, or {@link NotFoundException}
     * @param policy   gets every accepted proposal (the merge policy)
     * @param decided  told about every accepted or rejected proposal (metrics)
     */
    public ProposalService(ProposalLedger ledger, Uploads uploads, ValidationChain validation, StalenessCheck.Distances distances,
                           Function<String, ObjectId> headOf, AcceptListener policy, Consumer<ProposalRecord> decided) {
        this.ledger = ledger;
        this.store = ledger.store();
        this.uploads = uploads;
        this.validation = validation;
        this.staleness = new StalenessCheck(distances, validation.config());
        this.headOf = headOf;
        this.policy = policy;
        this.decided = decided;
        this.pushRate = new PushRateLimiter(ledger.limits().pushesPerMinute(), System::nanoTime);
    }

    public ProposalStore store() {
        return store;
    }

    /** Bytes held for an interrupted upload, -1 if none. */
    public long uploadOffset(Principal who, String uploadId) {
        who.require(Role.CONTRIBUTOR, "resuming an upload");
        return uploads.offset(who.name(), uploadId);
    }

    /**
     * Starts receiving a proposal. Identity failures throw; a proposal that fails a header check
     * comes back already rejected ({@link PushSession#result()}), before any payload is read.
     */
    public PushSession open(Principal who, ProposalSpec spec, long resumeOffset) {
        who.require(Role.CONTRIBUTOR, "pushing a proposal");
        if (!who.name().equals(spec.contributor())) {
            throw new CoordinatorException(CoordinatorException.Kind.PERMISSION_DENIED,
                    "the token of '" + who.name() + "' cannot push as contributor '" + spec.contributor() + "'");
        }
        pushRate.take(who.name());
        ledger.limits().checkMessage("proposal message", spec.message());
        headOf.apply(spec.branch());
        Optional<ProposalRecord> again = store.byDigest(spec.digestHex()).flatMap(store::find)
                .filter(r -> r.contributor().equals(who.name()));
        if (again.isPresent()) {
            // The same change from the same contributor (a retry after a lost answer or a crash):
            // the answer is the original proposal as it stands now, merged, pending or rejected.
            return PushSession.decided(again.get());
        }
        ValidationChain.Outcome o = validation.header(spec);
        if (o.rejection().isPresent()) {
            List<CheckResult> checks = new ArrayList<>(o.passed());
            checks.add(CheckResult.fail(o.rejection().get()));
            return PushSession.decided(reject(spec, checks, o.rejection().get()));
        }
        Uploads.Upload upload = uploads.open(spec.contributor(), spec.uploadId(), resumeOffset);
        PushSession s = new PushSession(this, spec, upload, validation.ingest(spec), o.passed(), resumeOffset);
        if (resumeOffset > 0) {
            s.replay();
        }
        return s;
    }

    ProposalRecord reject(ProposalSpec spec, List<CheckResult> checks, Rejection r) {
        ProposalRecord rec = ledger.rejected(id -> new ProposalRecord(id, spec.branch(), spec.contributor(), spec.baseVersion(),
                ProposalRecord.Status.REJECTED, List.of(r.getMessage()), checks, spec.digestHex(), 0, 0,
                spec.exampleCount(), spec.hasFisher(), 0, 0, 0, spec.payloadBytes(), spec.message(), Instant.now(),
                Optional.empty(), Optional.empty(), spec.parts().stream().map(p -> p.info().name()).toList()));
        decided.accept(rec);
        return rec;
    }

    /** Final checks once the payload is complete; stores the proposal and hands it to the policy. */
    ProposalRecord complete(ProposalSpec spec, Ingest.Summary sum, Uploads.Upload upload, List<CheckResult> checks) throws Rejection {
        ValidationChain.Outcome o = validation.payload(spec, sum, upload::read);
        checks.addAll(o.passed());
        if (o.rejection().isPresent()) {
            throw o.rejection().get();
        }
        long s = staleness.staleness(spec);
        double weight = validation.config().stalenessWeight(s);
        double density = NumbersCheck.density(sum, ValidationChain.baseLayout(store.repository(), spec));
        // Kept with the proposal so it stays verifiable with this key after a rotation or revocation.
        Optional<String> signingKey = checks.stream().map(SignatureCheck::signingKey).flatMap(Optional::stream).findFirst();
        ProposalRecord rec = ledger.accepted(spec.digestHex(), payloadDigest(spec, upload), id -> new ProposalRecord(id, spec.branch(), spec.contributor(),
                spec.baseVersion(), ProposalRecord.Status.ACCEPTED, List.of(), checks, spec.digestHex(), s, weight,
                spec.exampleCount(), spec.hasFisher(), sum.entries(), density, sum.totalNorm(), spec.payloadBytes(), spec.message(),
                Instant.now(), Optional.empty(), Optional.empty(), spec.parts().stream().map(p -> p.info().name()).toList(),
                signingKey, Optional.of(java.util.HexFormat.of().formatHex(spec.signature()))),
                (tx, r) -> {
                    long at = 0;
                    for (int i = 0; i < spec.parts().size(); i++) {
                        ProposalSpec.Part p = spec.parts().get(i);
                        byte[] delta = upload.read(at, Math.toIntExact(p.deltaBytes()));
                        byte[] fisher = p.fisherBytes() > 0 ? upload.read(at + p.deltaBytes(), Math.toIntExact(p.fisherBytes())) : null;
                        store.putPayload(tx, r.id(), i, delta, fisher);
                        at += p.bytes();
                    }
                    if (spec.hasGram()) {
                        List<byte[]> grams = new java.util.ArrayList<>();
                        for (ProposalSpec.Gram g : spec.grams()) {
                            grams.add(upload.read(at, Math.toIntExact(g.bytes())));
                            at += g.bytes();
                        }
                        store.putGrams(tx, r.id(), spec.grams().stream().map(ProposalSpec.Gram::info).toList(), grams);
                    }
                });
        upload.discard();
        decided.accept(rec);
        return policy.accepted(rec);
    }

    /**
     * SHA-256 of the change itself: each part's tensor name, dtype, shape and encoded delta, not the
     * message, contributor, base or signature, so a re-signed or re-attributed copy has the same digest.
     */
    private static String payloadDigest(ProposalSpec spec, Uploads.Upload upload) {
        java.security.MessageDigest md;
        try {
            md = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long at = 0;
        for (ProposalSpec.Part p : spec.parts()) {
            md.update((p.info().name() + "\0" + p.info().dtype() + p.info().shapeString() + "\0" + p.deltaBytes() + "\0")
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            for (long off = 0; off < p.deltaBytes(); off += 1 << 20) {
                md.update(upload.read(at + off, (int) Math.min(1 << 20, p.deltaBytes() - off)));
            }
            at += p.bytes();
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }

    /** Proposals of a branch visible to {@code who}: all for maintainers, their own otherwise. */
    public List<ProposalRecord> list(Principal who, String branch, Optional<ProposalRecord.Status> status, int limit) {
        return page(who, branch, status, limit, "").proposals();
    }

    /** One page of a listing, newest first; {@code next} is the token of the following page, empty after the last. */
    public record Page(List<ProposalRecord> proposals, String next) {}

    /**
     * A page of the proposals visible to {@code who}, older than the one {@code pageToken} names
     * (empty: from the newest); at most {@code limit} (0: 100), never more than the page size.
     */
    public Page page(Principal who, String branch, Optional<ProposalRecord.Status> status, int limit, String pageToken) {
        who.require(Role.READER, "listing proposals");
        if (limit < 0) {
            throw new dev.merit.error.InvalidInputException("listing limit " + limit + " is negative");
        }
        long before = Long.MAX_VALUE;
        if (!pageToken.isEmpty()) {
            if (!pageToken.matches("p\\d{1,12}")) {
                throw new dev.merit.error.InvalidInputException("page token '" + (pageToken.length() > 40 ? pageToken.substring(0, 40) + "..." : pageToken)
                        + "' is not one this coordinator gave (they look like p17)");
            }
            before = Long.parseLong(pageToken.substring(1));
        }
        int n = Math.min(limit == 0 ? 100 : limit, ledger.limits().maxPageSize());
        boolean all = who.role().atLeast(Role.MAINTAINER);
        long bound = before;
        List<ProposalRecord> got = store.list(r -> Long.parseLong(r.id().substring(1)) < bound
                && (branch.isEmpty() || r.branch().equals(branch)) && status.map(st -> st == r.status()).orElse(true)
                && (all || r.contributor().equals(who.name())), n + 1);
        if (got.size() <= n) {
            return new Page(got, "");
        }
        List<ProposalRecord> page = List.copyOf(got.subList(0, n));
        return new Page(page, page.getLast().id());
    }

    public ProposalRecord get(Principal who, String id) {
        who.require(Role.READER, "reading a proposal");
        ProposalRecord r = store.get(id);
        if (!who.role().atLeast(Role.MAINTAINER) && !r.contributor().equals(who.name())) {
            throw new CoordinatorException(CoordinatorException.Kind.PERMISSION_DENIED,
                    "proposal " + id + " belongs to '" + r.contributor() + "'; only its author and maintainers see it");
        }
        return r;
    }

    /** Rewrites a stored proposal (review decisions), with its event, in one batch. */
    public ProposalRecord update(ProposalRecord r, UnaryOperator<ProposalRecord> change, boolean dequeue) {
        return ledger.update(r, change, dequeue);
    }
}
