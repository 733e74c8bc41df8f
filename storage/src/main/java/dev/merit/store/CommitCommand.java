package dev.merit.store;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.error.InvalidInputException;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.IntStream;

/**
 * Records a set of tensors as the next version of a branch:
 * {@code repo.commit().setSource(file).setMessage("...").call()}.
 *
 * <p>Without a density or threshold the commit is lossless. With one, only the selected entries
 * of the change are kept (see {@link Selection}); the version then equals the source at those
 * entries and the parent everywhere else. Tensors whose dtype or shape changed, and new
 * tensors, are stored whole. If another writer moves the branch meanwhile, the change is
 * recomputed against the new head (up to a few times) rather than lost.
 */
public final class CommitCommand {

    /**
     * Commits in this process queue on the branch's lock, so a retry is needed only when
     * something else moved the ref directly ({@link Repository#updateBranch}); retries back off.
     */
    private static final int MAX_ATTEMPTS = 20;

    private final Repository repo;
    private TensorSource source;
    private TensorSource fisher;
    private TensorSource gram;
    private String message;
    private String author = System.getProperty("user.name", "unknown");
    private String branchRef;
    private Selection selection = Selection.lossless();
    private dev.merit.codec.ValueCoding valueCoding = dev.merit.codec.ValueCoding.EXACT;
    private int lowRank;
    private List<ObjectId> extraParents = List.of();
    private ObjectNode provenance = Json.MAPPER.createObjectNode();
    private ProgressListener progress = ProgressListener.NONE;
    private Instant time;
    private java.util.function.BiConsumer<ObjectId, Transaction> alsoWrite = (id, tx) -> {};
    private Map<String, SparseTensorDelta> changes;
    private Map<String, String> metadata;

    CommitCommand(Repository repo) {
        this.repo = repo;
    }

    public CommitCommand setSource(TensorSource source) {
        this.source = source;
        return this;
    }

    /**
     * Commits the branch head plus these changes instead of a source: per tensor a SET delta with
     * new values (in the tensor's dtype) at some positions; tensors not in the map are unchanged.
     * Nothing is compared against the whole model, so the cost follows the changes' size (a tensor
     * whose delta chain is full is rebuilt as a keyframe, reading that tensor only). The commit is
     * lossless: selection, value coding and low rank do not apply. If the branch moves meanwhile,
     * the changes are applied to its new head. Layout and metadata are the head's unless
     * {@link #setMetadata} says otherwise.
     */
    public CommitCommand setChanges(Map<String, SparseTensorDelta> setDeltas) {
        this.changes = Map.copyOf(setDeltas);
        return this;
    }

    /** The version's metadata for {@link #setChanges} commits (default: the parent's). */
    public CommitCommand setMetadata(Map<String, String> metadata) {
        this.metadata = Map.copyOf(metadata);
        return this;
    }

    public CommitCommand setFisher(TensorSource fisher) {
        this.fisher = fisher;
        return this;
    }

    /**
     * Attaches RegMean statistics: for each linear layer, a tensor named like the layer's weight
     * ({@code [out, in]}) holding the Gram matrix of its inputs as a packed upper triangle
     * ({@code [in * (in + 1) / 2]}, F32 or F16), with {@code __metadata__} {@code merit.gram =
     * packed-upper} and {@code merit.gram.examples = N}. Stored beside the version and read back
     * with {@link Repository#openGram}.
     */
    public CommitCommand setGram(TensorSource gram) {
        this.gram = gram;
        return this;
    }

    public CommitCommand setMessage(String message) {
        this.message = message;
        return this;
    }

    public CommitCommand setAuthor(String author) {
        this.author = author;
        return this;
    }

    /** Commits to this branch (short name) instead of HEAD's. */
    public CommitCommand setBranch(String branch) {
        this.branchRef = RefDatabase.HEADS + branch;
        return this;
    }

    public CommitCommand setSelection(Selection selection) {
        this.selection = Objects.requireNonNull(selection);
        return this;
    }

    /**
     * How changed values are stored: exactly (default), or quantized to fp16, bf16 or int8 (for
     * floating-point tensors), in which case the version is the parent plus the dequantized change.
     */
    public CommitCommand setValueCoding(dev.merit.codec.ValueCoding coding) {
        this.valueCoding = Objects.requireNonNull(coding);
        return this;
    }

    /**
     * Stores the change of each changed 2-D floating-point tensor as rank-{@code rank} factors
     * (a truncated randomized SVD); other tensors follow the selection. 0 turns it off.
     */
    public CommitCommand setLowRank(int rank) {
        if (rank < 0) {
            throw new InvalidInputException("--low-rank must be >= 1, got " + rank);
        }
        this.lowRank = rank;
        return this;
    }

    /** Further parents after the branch head (merge commits). */
    public CommitCommand setExtraParents(List<ObjectId> parents) {
        this.extraParents = List.copyOf(parents);
        return this;
    }

    /** Caller-specific provenance (merge strategy, training data, ...), merged into the commit's. */
    public CommitCommand setProvenance(ObjectNode provenance) {
        this.provenance = provenance.deepCopy();
        return this;
    }

    public CommitCommand setProgress(ProgressListener progress) {
        this.progress = progress;
        return this;
    }

    /** Fixes the commit time (tests, reproducible imports). */
    public CommitCommand setTime(Instant time) {
        this.time = time;
        return this;
    }

    /**
     * Adds records and events (given the new commit's id) to the commit's own atomic batch, so
     * they exist if and only if the commit does.
     */
    public CommitCommand alsoWrite(java.util.function.BiConsumer<ObjectId, Transaction> rows) {
        this.alsoWrite = Objects.requireNonNull(rows);
        return this;
    }

    public CommitResult call() {
        if ((source == null) == (changes == null)) {
            throw new IllegalStateException("a commit needs exactly one of setSource and setChanges");
        }
        if (message == null || message.isBlank()) {
            throw new InvalidInputException("a commit message is required (-m)");
        }
        if (changes != null && (fisher != null || gram != null || !selection.isLossless() || valueCoding != dev.merit.codec.ValueCoding.EXACT
                || lowRank > 0)) {
            throw new IllegalStateException("setChanges commits are lossless and carry no Fisher");
        }
        if (fisher != null) {
            checkFisher();
        }
        if (gram != null) {
            checkGram();
        }
        String ref = branchRef != null ? branchRef : repo.refs().headTarget();
        java.util.concurrent.locks.ReentrantLock lock = repo.refLock(ref);
        lock.lock();
        try {
            for (int attempt = 1; ; attempt++) {
                Optional<ObjectId> parent = repo.refs().read(ref);
                CommitResult r = changes != null ? new ChangesAttempt(parent).run(ref) : new Attempt(parent).run(ref);
                if (r != null) {
                    return r;
                }
                if (attempt == MAX_ATTEMPTS) {
                    throw new StoreException("branch " + ref + " kept moving; gave up after " + attempt + " attempts");
                }
                backOff(attempt);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Sleeps a random time that grows with the attempt (at most about a second), so racing writers spread out. */
    private static void backOff(int attempt) {
        long maxMillis = Math.min(1000, 5L << Math.min(attempt, 8));
        try {
            Thread.sleep(java.util.concurrent.ThreadLocalRandom.current().nextLong(1, maxMillis + 1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("interrupted while waiting to retry a commit to a moving branch");
        }
    }

    private void checkFisher() {
        for (TensorInfo t : source.tensors()) {
            TensorInfo f = fisher.info(t.name()).orElseThrow(() -> new InvalidInputException(
                    fisher.describe() + ": Fisher has no tensor '" + t.name() + "'"));
            if (!java.util.Arrays.equals(f.shape(), t.shape()) || !f.dtype().isFloatingPoint()) {
                throw new InvalidInputException(fisher.describe() + ": Fisher tensor '" + t.name() + "' is "
                        + f.dtype() + f.shapeString() + ", expected a floating-point tensor of shape " + t.shapeString());
            }
        }
        if (fisher.tensors().size() != source.tensors().size()) {
            throw new InvalidInputException(fisher.describe() + ": Fisher has " + fisher.tensors().size()
                    + " tensors, the model has " + source.tensors().size());
        }
    }

    private void checkGram() {
        if (!"packed-upper".equals(gram.metadata().get("merit.gram"))) {
            throw new InvalidInputException(gram.describe() + ": Gram matrices need __metadata__ merit.gram=packed-upper, got "
                    + gram.metadata().get("merit.gram"));
        }
        for (TensorInfo g : gram.tensors()) {
            TensorInfo w = source.info(g.name()).orElseThrow(() -> new InvalidInputException(
                    gram.describe() + ": Gram matrix '" + g.name() + "' names no tensor of the model"));
            long in = w.rank() == 2 ? w.dim(1) : -1;
            if (in < 0 || g.rank() != 1 || g.dim(0) != in * (in + 1) / 2
                    || (g.dtype() != dev.merit.tensor.DType.F32 && g.dtype() != dev.merit.tensor.DType.F16)) {
                throw new InvalidInputException(gram.describe() + ": Gram matrix '" + g.name() + "' is " + g.dtype()
                        + g.shapeString() + ", expected F32 or F16 [" + (in < 0 ? "?" : in * (in + 1) / 2)
                        + "] for weight " + w.shapeString());
            }
        }
    }

    /** One try at writing the commit on top of a given parent. */
    private final class Attempt {
        private final Optional<ObjectId> parentId;
        private final StoredDeltas encoder = new StoredDeltas(valueCoding, lowRank);
        private final DeltaStats stats = new DeltaStats();

        Attempt(Optional<ObjectId> parentId) {
            this.parentId = parentId;
        }

        /** Returns null if the branch moved under us. */
        CommitResult run(String ref) {
            Optional<Manifest> parentManifest = parentId.map(repo::manifestOf);
            try (ObjectSink sink = new ObjectSink(repo.store());
                 Arena arena = Arena.ofShared();
                 TensorSource parent = parentId.isPresent() ? repo.openVersion(parentId.get()) : null) {
                List<TensorInfo> layout = source.tensors();
                Map<String, SparseTensorDelta> deltas = parent == null ? Map.of()
                        : selection.select(parent, source, arena);
                long total = layout.stream().mapToLong(TensorInfo::byteSize).sum();
                progress.start("commit", total);
                Manifest.Entry[] entries = new Manifest.Entry[layout.size()];
                IntStream.range(0, layout.size()).parallel().forEach(i -> {
                    TensorInfo t = layout.get(i);
                    Optional<Manifest.Entry> prev = parentManifest.flatMap(m -> m.entry(t.name()))
                            .filter(e -> e.info().sameLayout(t));
                    entries[i] = entryFor(t, prev, deltas.get(t.name()), parent, sink);
                });
                progress.done();
                Manifest manifest = new Manifest(List.of(entries), source.metadata());
                ObjectId manifestId = sink.putFinal(ObjectKind.MANIFEST, manifest.encode());
                Optional<ObjectId> fisherId = Optional.empty();
                long beforeFisher = sink.newBytes();
                if (fisher != null) {
                    // Only at the committed change's entries; tensors stored whole keep their whole Fisher.
                    fisherId = Optional.of(ChangedFisher.store(fisher, layout, deltas, name -> {
                        TensorInfo t = source.info(name).orElseThrow();
                        boolean prev = parentManifest.flatMap(m -> m.entry(name)).filter(e -> e.info().sameLayout(t)).isPresent();
                        SparseTensorDelta d = deltas.get(name);
                        boolean lowRankChange = lowRank > 0 && t.dtype().isFloatingPoint() && t.rank() == 2 && d != null && d.count() > 0;
                        return !prev || lowRankChange;
                    }, sink));
                }
                long fisherBytes = sink.newBytes() - beforeFisher;
                Optional<ObjectId> gramId = Optional.empty();
                if (gram != null) {
                    List<Manifest.Entry> ge = new ArrayList<>();
                    for (TensorInfo t : gram.tensors()) {
                        ge.add(new Manifest.Entry(t, sink.putChunks(gram.data(t.name()), ProgressListener.NONE), List.of(), 0));
                    }
                    gramId = Optional.of(sink.putFinal(ObjectKind.MANIFEST, new Manifest(ge, gram.metadata()).encode()));
                }
                long gramBytes = sink.newBytes() - beforeFisher - fisherBytes;
                List<ObjectId> parents = new ArrayList<>();
                parentId.ifPresent(parents::add);
                parents.addAll(extraParents);
                ObjectNode prov = buildProvenance(deltas);
                if (fisher != null) {
                    prov.put("fisher_bytes", fisherBytes);
                }
                if (gram != null) {
                    prov.put("gram_bytes", gramBytes);
                }
                Commit commit = new Commit(manifestId, parents, author, time != null ? time : Instant.now(), message,
                        fisherId, gramId, prov, sink.newBytes());
                ObjectId commitId = sink.putFinal(ObjectKind.COMMIT, commit.encode());
                RocksStore.Batch batch = sink.finish();
                alsoWrite.accept(commitId, new Transaction(repo, batch, false));
                RefUpdate r = repo.updateRef(ref, parentId, commitId, "commit: " + firstLine(message), batch);
                if (r == RefUpdate.LOCK_FAILURE) {
                    return null;
                }
                return new CommitResult(commitId, commit, r);
            }
        }

        private ObjectNode buildProvenance(Map<String, SparseTensorDelta> deltas) {
            ObjectNode prov = Json.MAPPER.createObjectNode();
            prov.put("tool", "merit " + Repository.class.getPackage().getImplementationVersion());
            prov.put("java", System.getProperty("java.version"));
            prov.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
            prov.put("source", source.describe());
            ObjectNode sel = prov.putObject("selection");
            selection.describe(sel);
            long kept = deltas.values().stream().mapToLong(SparseTensorDelta::count).sum();
            sel.put("kept_entries", kept);
            if (parentId.isPresent() && !selection.isLossless()) {
                sel.put("kept_norm_fraction", selection.lastKeptNormFraction());
            }
            if (!encoder.lossless()) {
                sel.put("values", valueCoding.name().toLowerCase());
                if (lowRank > 0) {
                    sel.put("low_rank", lowRank);
                }
            }
            prov.set("deltas", stats.toJson());
            prov.setAll(provenance);
            return prov;
        }

        private Manifest.Entry entryFor(TensorInfo t, Optional<Manifest.Entry> prev, SparseTensorDelta delta,
                                        TensorSource parent, ObjectSink sink) {
            if (prev.isEmpty()) {
                // New tensor, or its dtype/shape changed: stored whole.
                return keyframe(t, source.data(t.name()), sink);
            }
            Manifest.Entry p = prev.get();
            if (delta == null || delta.count() == 0) {
                progress.advance(t.byteSize());
                return p;
            }
            // Shared: a rebuilt keyframe is hashed and stored by the pool's threads.
            try (Arena a = Arena.ofShared()) {
                MemorySegment before = parent.data(t.name());
                StoredDeltas.Encoded enc = encoder.encode(delta, before, source.data(t.name()), a);
                stats.add(enc);
                boolean chainFull = p.deltas().size() + 1 > Repository.MAX_CHAIN
                        || p.deltaBytes() + enc.bytes().length > Repository.KEYFRAME_FRACTION * t.byteSize();
                if (!chainFull) {
                    progress.advance(t.byteSize());
                    return p.withDelta(sink.putFinal(ObjectKind.DELTA, enc.bytes()), enc.bytes().length);
                }
                if (encoder.lossless() && selection.isLossless()) {
                    return keyframe(t, source.data(t.name()), sink);
                }
                // The keyframe must be exactly what checkout would rebuild: parent plus the decoded delta.
                MemorySegment version = a.allocate(Math.max(1, t.byteSize()), 8).asSlice(0, t.byteSize());
                MemorySegment.copy(before, 0, version, 0, t.byteSize());
                StoredDeltas.apply(t, enc.bytes(), version);
                return keyframe(t, version, sink);
            }
        }

        private Manifest.Entry keyframe(TensorInfo t, MemorySegment data, ObjectSink sink) {
            return new Manifest.Entry(t, sink.putChunks(data, progress), List.of(), 0);
        }
    }

    /** One try at writing a {@link #setChanges} commit on top of a given parent. */
    private final class ChangesAttempt {
        private final ObjectId parentId;
        private final StoredDeltas encoder = new StoredDeltas(dev.merit.codec.ValueCoding.EXACT, 0);
        private final DeltaStats stats = new DeltaStats();

        ChangesAttempt(Optional<ObjectId> parentId) {
            this.parentId = parentId.orElseThrow(() -> new InvalidInputException(
                    "the branch has no commit yet: changes need a version to apply to"));
        }

        CommitResult run(String ref) {
            Manifest parent = repo.manifestOf(parentId);
            for (String name : changes.keySet()) {
                if (parent.entry(name).isEmpty()) {
                    throw new InvalidInputException("change to tensor '" + name + "', which version "
                            + parentId.abbreviate(12) + " does not have");
                }
            }
            try (ObjectSink sink = new ObjectSink(repo.store())) {
                List<Manifest.Entry> prev = parent.tensors();
                Manifest.Entry[] entries = new Manifest.Entry[prev.size()];
                IntStream.range(0, prev.size()).parallel().forEach(i -> {
                    Manifest.Entry e = prev.get(i);
                    SparseTensorDelta d = changes.get(e.info().name());
                    entries[i] = d == null || d.count() == 0 ? e : entryFor(e, d, sink);
                });
                Manifest manifest = new Manifest(List.of(entries), metadata != null ? metadata : parent.metadata());
                ObjectId manifestId = sink.putFinal(ObjectKind.MANIFEST, manifest.encode());
                List<ObjectId> parents = new ArrayList<>();
                parents.add(parentId);
                parents.addAll(extraParents);
                ObjectNode prov = Json.MAPPER.createObjectNode();
                prov.put("tool", "merit " + Repository.class.getPackage().getImplementationVersion());
                prov.put("java", System.getProperty("java.version"));
                prov.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
                prov.put("source", "sparse changes");
                ObjectNode sel = prov.putObject("selection");
                Selection.lossless().describe(sel);
                sel.put("kept_entries", changes.values().stream().mapToLong(SparseTensorDelta::count).sum());
                prov.set("deltas", stats.toJson());
                prov.setAll(provenance);
                Commit commit = new Commit(manifestId, parents, author, time != null ? time : Instant.now(), message,
                        Optional.empty(), Optional.empty(), prov, sink.newBytes());
                ObjectId commitId = sink.putFinal(ObjectKind.COMMIT, commit.encode());
                RocksStore.Batch batch = sink.finish();
                alsoWrite.accept(commitId, new Transaction(repo, batch, false));
                RefUpdate r = repo.updateRef(ref, Optional.of(parentId), commitId, "commit: " + firstLine(message), batch);
                return r == RefUpdate.LOCK_FAILURE ? null : new CommitResult(commitId, commit, r);
            }
        }

        private Manifest.Entry entryFor(Manifest.Entry p, SparseTensorDelta d, ObjectSink sink) {
            TensorInfo t = p.info();
            if (d.semantics() != SparseTensorDelta.Semantics.SET || !d.info().sameLayout(t)) {
                throw new InvalidInputException("change to tensor '" + t.name() + "' must be a SET delta of "
                        + t.dtype() + t.shapeString() + ", got " + d.semantics() + " of " + d.info().dtype() + d.info().shapeString());
            }
            if (d.position(0) < 0 || d.position(d.count() - 1) >= t.numel()) {
                throw new InvalidInputException("change to tensor '" + t.name() + "': positions out of range [0, " + t.numel() + ")");
            }
            // Shared: a rebuilt keyframe is read and stored by the pool's threads.
            try (Arena a = Arena.ofShared()) {
                // Exact SET values: the codec needs neither the old nor the new tensor.
                StoredDeltas.Encoded enc = encoder.encode(d, MemorySegment.NULL, MemorySegment.NULL, a);
                stats.add(enc);
                boolean chainFull = p.deltas().size() + 1 > Repository.MAX_CHAIN
                        || p.deltaBytes() + enc.bytes().length > Repository.KEYFRAME_FRACTION * t.byteSize();
                if (!chainFull) {
                    return p.withDelta(sink.putFinal(ObjectKind.DELTA, enc.bytes()), enc.bytes().length);
                }
                // This tensor only: its current value from keyframe and chain, plus the change.
                MemorySegment version = a.allocate(Math.max(1, t.byteSize()), 8).asSlice(0, t.byteSize());
                repo.readTensor(p, version);
                d.applyInPlace(version);
                return new Manifest.Entry(t, sink.putChunks(version, ProgressListener.NONE), List.of(), 0);
            }
        }
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

}
