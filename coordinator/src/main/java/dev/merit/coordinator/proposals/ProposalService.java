package dev.merit.coordinator.proposals;

import dev.merit.codec.DecodeOptions;
import dev.merit.codec.DeltaCodec;
import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Versions;
import dev.merit.coordinator.auth.Ed25519;
import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.auth.KeyRegistry;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.validate.CheckResult;
import dev.merit.coordinator.validate.HeaderCheck;
import dev.merit.coordinator.validate.Ingest;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.coordinator.validate.Rejection;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import dev.merit.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;

/**
 * Receives proposals: checks the caller and the header before any payload, the payload as it
 * streams ({@link Ingest}), then the totals, signature and quality gate; stores the proposal as
 * accepted (with its payload, in one batch with its event) or rejected (with its reasons), and
 * hands accepted ones to the merge policy. Nothing about a branch head changes here.
 */
public final class ProposalService {

    /** What the merge policy does with a freshly accepted proposal; returns it as it then stands. */
    public interface AcceptListener {
        ProposalRecord accepted(ProposalRecord r);
    }

    private final Repository repo;
    private final ProposalStore store;
    private final Uploads uploads;
    private final KeyRegistry keys;
    private final Versions versions;
    private final ValidationConfig config;
    private final Optional<QualityGate> gate;
    private final Path tmp;
    private final Runnable eventsWritten;
    private final Map<ObjectId, Double> headScores = new ConcurrentHashMap<>();
    private final Object writeLock = new Object();
    private volatile AcceptListener policy = r -> r;
    private volatile java.util.function.Consumer<ProposalRecord> decided = r -> {};

    public ProposalService(ProposalStore store, Uploads uploads, KeyRegistry keys, Versions versions, ValidationConfig config,
                           Optional<QualityGate> gate, Path tmp, Runnable eventsWritten) {
        this.repo = store.repository();
        this.store = store;
        this.uploads = uploads;
        this.keys = keys;
        this.versions = versions;
        this.config = config;
        this.gate = gate;
        this.tmp = tmp;
        this.eventsWritten = eventsWritten;
    }

    public void setPolicy(AcceptListener policy) {
        this.policy = policy;
    }

    /** Told about every accepted or rejected proposal (metrics). */
    public void setDecisionListener(java.util.function.Consumer<ProposalRecord> l) {
        this.decided = l;
    }

    /** The bounds proposals are validated against (merge results are held to the same norms). */
    public ValidationConfig config() {
        return config;
    }

    public ProposalStore store() {
        return store;
    }

    /** Bytes held for an interrupted upload, -1 if none. */
    public long uploadOffset(Principal who, String uploadId) {
        who.require(Role.CONTRIBUTOR, "resuming an upload");
        return uploads.offset(uploadId);
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
        ObjectId head = versions.requireHead(spec.branch());
        List<CheckResult> checks = new ArrayList<>();
        try {
            Optional<String> dup = store.byDigest(spec.digestHex());
            if (dup.isPresent()) {
                throw new Rejection("duplicate", "same digest as proposal " + dup.get() + " (" + spec.digestHex().substring(0, 12) + ")");
            }
            checks.add(CheckResult.pass("duplicate", "digest not seen before"));
            byte[] key = keys.find(spec.contributor()).orElseThrow(() -> new Rejection("signature",
                    "no signing key registered for '" + spec.contributor() + "' (run merit key register)"));
            if (!Ed25519.verify(key, spec.digest(), spec.signature())) {
                throw new Rejection("signature", "the signature does not verify against the registered key "
                        + Ed25519.fingerprint(key) + " of '" + spec.contributor() + "'");
            }
            checks.add(CheckResult.pass("signature", "Ed25519, key " + Ed25519.fingerprint(key)));
            checks.add(staleness(spec, head));
            checks.add(HeaderCheck.check(spec, baseLayout(spec), config));
        } catch (Rejection r) {
            checks.add(CheckResult.fail(r));
            return PushSession.rejected(reject(spec, checks, r));
        }
        Uploads.Upload upload = uploads.open(spec.uploadId(), resumeOffset);
        Ingest ingest = new Ingest(spec, config);
        PushSession s = new PushSession(this, spec, upload, ingest, checks, resumeOffset);
        if (resumeOffset > 0) {
            s.replay();
        }
        return s;
    }

    private List<TensorInfo> baseLayout(ProposalSpec spec) throws Rejection {
        try {
            return repo.manifestOf(ObjectId.fromString(spec.baseVersion())).layout();
        } catch (RuntimeException e) {
            throw new Rejection("staleness", "base version '" + spec.baseVersion() + "' is unknown to the coordinator");
        }
    }

    private CheckResult staleness(ProposalSpec spec, ObjectId head) throws Rejection {
        long s = distance(spec, head);
        if (s > config.stalenessLimit()) {
            throw new Rejection("staleness", "base version " + spec.baseVersion().substring(0, Math.min(12, spec.baseVersion().length()))
                    + " is " + s + " versions behind the head of '" + spec.branch() + "' (limit " + config.stalenessLimit() + ")");
        }
        return CheckResult.pass("staleness", s + " versions behind, weight " + String.format("%.4g", config.stalenessWeight(s)));
    }

    private long distance(ProposalSpec spec, ObjectId head) throws Rejection {
        ObjectId base;
        try {
            base = ObjectId.fromString(spec.baseVersion());
        } catch (RuntimeException e) {
            throw new Rejection("staleness", "base version '" + spec.baseVersion() + "' is not a commit id");
        }
        try {
            return versions.distance(base, head, spec.branch());
        } catch (InvalidInputException | NotFoundException e) {
            throw new Rejection("staleness", e.getMessage());
        }
    }

    ProposalRecord reject(ProposalSpec spec, List<CheckResult> checks, Rejection r) {
        synchronized (writeLock) {
            ProposalRecord rec = new ProposalRecord(store.nextId(), spec.branch(), spec.contributor(), spec.baseVersion(),
                    ProposalRecord.Status.REJECTED, List.of(r.getMessage()), checks, spec.digestHex(), 0, 0,
                    spec.exampleCount(), spec.hasFisher(), 0, 0, 0, spec.payloadBytes(), spec.message(), Instant.now(),
                    Optional.empty(), Optional.empty(), spec.parts().stream().map(p -> p.info().name()).toList());
            try (Transaction tx = repo.newTransaction()) {
                store.put(tx, rec);
                tx.addEvent(Topics.PROPOSALS, rec.id(), rec.eventJson());
                tx.commit();
            }
            eventsWritten.run();
            decided.accept(rec);
            return rec;
        }
    }

    /** Final checks once the payload is complete; stores the proposal and hands it to the policy. */
    ProposalRecord complete(ProposalSpec spec, Ingest.Summary sum, Uploads.Upload upload, List<CheckResult> checks) throws Rejection {
        ObjectId head = versions.requireHead(spec.branch());
        long s = distance(spec, head);
        if (s > config.stalenessLimit()) {
            throw new Rejection("staleness", "the head of '" + spec.branch() + "' moved during the upload: the base is now "
                    + s + " versions behind (limit " + config.stalenessLimit() + ")");
        }
        List<TensorInfo> layout = baseLayout(spec);
        long params = layout.stream().mapToLong(TensorInfo::numel).sum();
        double density = params == 0 ? 0 : (double) sum.entries() / params;
        if (sum.totalNorm() > config.maxTotalNorm()) {
            throw new Rejection("numbers", String.format("L2 norm of the whole change %.6g exceeds the limit %.6g", sum.totalNorm(), config.maxTotalNorm()));
        }
        if (density < config.minDensity() || density > config.maxDensity()) {
            throw new Rejection("numbers", String.format("density %.6g (%d of %d entries) is outside [%.6g, %.6g]",
                    density, sum.entries(), params, config.minDensity(), config.maxDensity()));
        }
        checks.add(CheckResult.pass("numbers", String.format("finite; L2 norm %.6g; density %.6g", sum.totalNorm(), density)));
        checks.add(CheckResult.pass("digest", "payload matches " + spec.digestHex().substring(0, 12)));
        if (gate.isPresent()) {
            checks.add(qualityGate(gate.get(), spec, head, upload));
        }
        double weight = config.stalenessWeight(s);
        String payload = payloadDigest(spec, upload);
        ProposalRecord rec;
        synchronized (writeLock) {
            Optional<String> dup = store.byDigest(spec.digestHex());
            if (dup.isPresent()) {
                throw new Rejection("duplicate", "same digest as proposal " + dup.get());
            }
            Optional<String> same = store.byPayload(payload);
            if (same.isPresent()) {
                String by = store.find(same.get()).map(ProposalRecord::contributor).orElse("?");
                throw new Rejection("duplicate", "the same change as proposal " + same.get() + " by '" + by
                        + "' (payload " + payload.substring(0, 12) + "); a change is proposed once, whoever signs it");
            }
            rec = new ProposalRecord(store.nextId(), spec.branch(), spec.contributor(), spec.baseVersion(),
                    ProposalRecord.Status.ACCEPTED, List.of(), checks, spec.digestHex(), s, weight, spec.exampleCount(),
                    spec.hasFisher(), sum.entries(), density, sum.totalNorm(), spec.payloadBytes(), spec.message(),
                    Instant.now(), Optional.empty(), Optional.empty(), spec.parts().stream().map(p -> p.info().name()).toList());
            try (Transaction tx = repo.newTransaction()) {
                long at = 0;
                for (int i = 0; i < spec.parts().size(); i++) {
                    ProposalSpec.Part p = spec.parts().get(i);
                    byte[] delta = upload.read(at, Math.toIntExact(p.deltaBytes()));
                    byte[] fisher = p.fisherBytes() > 0 ? upload.read(at + p.deltaBytes(), Math.toIntExact(p.fisherBytes())) : null;
                    store.putPayload(tx, rec.id(), i, delta, fisher);
                    at += p.bytes();
                }
                store.put(tx, rec);
                store.indexDigest(tx, rec);
                store.indexPayload(tx, payload, rec);
                store.enqueue(tx, rec);
                tx.addEvent(Topics.PROPOSALS, rec.id(), rec.eventJson());
                tx.commit();
            }
        }
        upload.discard();
        eventsWritten.run();
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

    private CheckResult qualityGate(QualityGate g, ProposalSpec spec, ObjectId head, Uploads.Upload upload) throws Rejection {
        double headScore = headScores.computeIfAbsent(head, h -> {
            try (SafetensorsFile f = repo.openVersion(h)) {
                return g.evaluator().score(f);
            }
        });
        Path candidate = null;
        try {
            Files.createDirectories(tmp);
            candidate = Files.createTempFile(tmp, "candidate-", ".safetensors");
            try (SafetensorsFile base = repo.openVersion(head)) {
                try (SafetensorsWriter w = SafetensorsWriter.create(candidate, base.tensors(), base.metadata())) {
                    for (TensorInfo t : base.tensors()) {
                        MemorySegment.copy(base.data(t.name()), 0, w.segment(t.name()), 0, t.byteSize());
                    }
                    long at = 0;
                    for (ProposalSpec.Part p : spec.parts()) {
                        byte[] delta = upload.read(at, Math.toIntExact(p.deltaBytes()));
                        try (Arena arena = Arena.ofConfined()) {
                            MemorySegment enc = arena.allocate(delta.length, 8);
                            MemorySegment.copy(MemorySegment.ofArray(delta), 0, enc, 0, delta.length);
                            DeltaCodec.decode(enc, DecodeOptions.defaults().expecting(p.info()), arena)
                                    .applyInPlace(w.segment(p.info().name()));
                        }
                        at += p.bytes();
                    }
                    w.finish();
                }
            }
            try (SafetensorsFile c = SafetensorsFile.open(candidate)) {
                return g.check(headScore, g.evaluator().score(c));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("quality gate: " + e.getMessage(), e);
        } finally {
            if (candidate != null) {
                try {
                    Files.deleteIfExists(candidate);
                } catch (IOException ignored) {
                    // a leftover temp file is harmless; the next start clears tmp
                }
            }
        }
    }

    /** Proposals of a branch visible to {@code who}: all for maintainers, their own otherwise. */
    public List<ProposalRecord> list(Principal who, String branch, Optional<ProposalRecord.Status> status, int limit) {
        who.require(Role.READER, "listing proposals");
        boolean all = who.role().atLeast(Role.MAINTAINER);
        return store.list(r -> (branch.isEmpty() || r.branch().equals(branch)) && status.map(st -> st == r.status()).orElse(true)
                && (all || r.contributor().equals(who.name())), limit <= 0 ? 100 : limit);
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
        ProposalRecord next;
        synchronized (writeLock) {
            next = change.apply(r);
            try (Transaction tx = repo.newTransaction()) {
                store.put(tx, next);
                if (dequeue) {
                    store.dequeue(tx, next);
                }
                if (next.status() == ProposalRecord.Status.REJECTED) {
                    tx.addEvent(Topics.PROPOSALS, next.id(), next.eventJson());
                }
                tx.commit();
            }
        }
        eventsWritten.run();
        return next;
    }
}
