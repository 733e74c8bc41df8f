package dev.merit.store;

import dev.merit.codec.DecodedDelta;
import dev.merit.codec.DeltaCodec;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.delta.Sparsifier;
import dev.merit.delta.TensorPair;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.SparseDeltaSource;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The change from a base version to a revision, as ADD deltas the merge engine consumes.
 *
 * <p>When a tensor's history since the base is one stored sparse SET delta on the same keyframe
 * (the usual case for a contributor's commit), that delta is used directly, so the cost follows
 * the delta's size: only the base's values at its positions are read. Otherwise the revision's
 * tensor is compared with the base's.
 */
final class StoredChange implements SparseDeltaSource {

    private final Repository repo;
    private final String label;
    private final Manifest base;
    private final Manifest rev;
    private final SafetensorsFile baseVersion;
    private final ObjectId revId;
    private final Optional<ObjectId> fisherManifest;
    private final Set<String> touched = new LinkedHashSet<>();
    private final Map<String, Arena> arenas = new ConcurrentHashMap<>();
    private final Map<String, SparseTensorDelta> deltas = new ConcurrentHashMap<>();
    private volatile SafetensorsFile revVersion;
    private volatile SafetensorsFile fisher;

    StoredChange(Repository repo, String label, ObjectId baseId, SafetensorsFile baseVersion, ObjectId revId) {
        this.repo = repo;
        this.label = label;
        this.base = repo.manifestOf(baseId);
        this.rev = repo.manifestOf(revId);
        this.baseVersion = baseVersion;
        this.revId = revId;
        this.fisherManifest = repo.readCommit(revId).fisher();
        for (Manifest.Entry e : rev.tensors()) {
            Manifest.Entry b = base.entry(e.info().name()).orElseThrow(() -> new InvalidInputException(
                    label + ": tensor '" + e.info().name() + "' is not in the merge base; merges combine changes to existing tensors"));
            if (!b.info().sameLayout(e.info())) {
                throw new InvalidInputException(label + ": tensor '" + e.info().name() + "' is " + e.info().dtype()
                        + e.info().shapeString() + " but " + b.info().dtype() + b.info().shapeString() + " in the merge base");
            }
            if (!b.equals(e)) {
                touched.add(e.info().name());
            }
        }
        for (Manifest.Entry b : base.tensors()) {
            if (rev.entry(b.info().name()).isEmpty()) {
                throw new InvalidInputException(label + ": tensor '" + b.info().name() + "' was removed since the merge base");
            }
        }
    }

    @Override
    public Set<String> tensorNames() {
        return touched;
    }

    @Override
    public Optional<SparseTensorDelta> delta(String tensor) {
        if (!touched.contains(tensor)) {
            return Optional.empty();
        }
        return Optional.of(deltas.computeIfAbsent(tensor, this::computeDelta));
    }

    private SparseTensorDelta computeDelta(String tensor) {
        Manifest.Entry b = base.entry(tensor).orElseThrow();
        Manifest.Entry r = rev.entry(tensor).orElseThrow();
        Arena arena = arenas.computeIfAbsent(tensor, t -> Arena.ofShared());
        MemorySegment before = baseVersion.data(tensor);
        SparseTensorDelta set = storedSetDelta(b, r, arena);
        if (set == null) {
            TensorInfo info = r.info();
            set = Sparsifier.allChanges().sparsify(List.of(new TensorPair(info, before, revVersion().data(tensor))), arena)
                    .deltas().getFirst();
        }
        return StoredDeltas.toAdd(set, before, arena);
    }

    /** The one stored SET delta separating the revision from the base, or null if history is not that simple. */
    private SparseTensorDelta storedSetDelta(Manifest.Entry b, Manifest.Entry r, Arena arena) {
        if (!r.keyframe().equals(b.keyframe()) || r.deltas().size() != b.deltas().size() + 1
                || !r.deltas().subList(0, b.deltas().size()).equals(b.deltas())) {
            return null;
        }
        ObjectId id = r.deltas().getLast();
        byte[] blob = repo.store().get(ObjectKind.DELTA, id);
        if (blob == null) {
            throw new StoreException("tensor '" + r.info().name() + "': delta " + id + " is missing (run merit fsck)");
        }
        DecodedDelta d = DeltaCodec.decode(MemorySegment.ofArray(blob), StoredDeltas.decodeOptions(r.info()), arena);
        if (d instanceof DecodedDelta.Sparse s && s.delta().semantics() == SparseTensorDelta.Semantics.SET) {
            return s.delta();
        }
        return null;
    }

    private SafetensorsFile revVersion() {
        if (revVersion == null) {
            synchronized (this) {
                if (revVersion == null) {
                    revVersion = repo.openVersion(revId);
                }
            }
        }
        return revVersion;
    }

    @Override
    public Optional<MemorySegment> fisher(String tensor) {
        if (fisherManifest.isEmpty()) {
            return Optional.empty();
        }
        SparseTensorDelta d = delta(tensor).orElseThrow();
        SafetensorsFile f = fisherFile();
        TensorInfo fi = f.info(tensor).orElseThrow(() -> new InvalidInputException(
                label + ": the attached Fisher has no tensor '" + tensor + "'"));
        DType dt = fi.dtype();
        MemorySegment data = f.data(tensor);
        Arena arena = arenas.computeIfAbsent(tensor, t -> Arena.ofShared());
        MemorySegment out = arena.allocate(Math.max(1, d.count() * Float.BYTES), 8);
        for (long i = 0; i < d.count(); i++) {
            out.setAtIndex(SparseTensorDelta.ADD_VALUE, i, dt.getFloat(data, d.position(i)));
        }
        return Optional.of(out);
    }

    private SafetensorsFile fisherFile() {
        if (fisher == null) {
            synchronized (this) {
                if (fisher == null) {
                    fisher = repo.openFisher(revId);
                }
            }
        }
        return fisher;
    }

    @Override
    public boolean hasFisher() {
        return fisherManifest.isPresent();
    }

    @Override
    public void release(String tensor) {
        deltas.remove(tensor);
        Arena a = arenas.remove(tensor);
        if (a != null) {
            a.close();
        }
    }

    @Override
    public String describe() {
        return label;
    }

    void close() {
        arenas.keySet().forEach(this::release);
        if (revVersion != null) {
            revVersion.close();
        }
        if (fisher != null) {
            fisher.close();
        }
    }
}
