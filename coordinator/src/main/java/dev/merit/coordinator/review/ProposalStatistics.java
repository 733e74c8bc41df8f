package dev.merit.coordinator.review;

import dev.merit.codec.DecodeOptions;
import dev.merit.codec.DeltaCodec;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalStore;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.error.NotFoundException;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Statistics of stored proposals, computed from their encoded deltas: per tensor, how much and
 * where a proposal changes the model, and between two proposals, how their changes meet. Deltas
 * are decoded into memory confined to the calling thread and freed before returning.
 */
public final class ProposalStatistics {

    private final Repository repo;
    private final ProposalStore store;
    /** L2 norms of base tensors by "commit/tensor": versions never change, so neither do these. */
    private final Map<String, Double> baseNorms = new ConcurrentHashMap<>();

    public ProposalStatistics(ProposalStore store) {
        this.repo = store.repository();
        this.store = store;
    }

    /** Each changed tensor of {@code p}, in payload order; empty if its payload was never stored (rejected on arrival). */
    public List<TensorChange> tensors(ProposalRecord p) {
        if (!hasPayload(p)) {
            return List.of();
        }
        ObjectId base = ObjectId.fromString(p.baseVersion());
        List<TensorChange> out = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            Map<String, SparseTensorDelta> deltas = decode(p, arena);
            for (SparseTensorDelta d : deltas.values()) {
                double sq = 0;
                double max = 0;
                for (long i = 0; i < d.count(); i++) {
                    double v = d.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i);
                    sq += v * v;
                    max = Math.max(max, Math.abs(v));
                }
                String name = d.info().name();
                out.add(new TensorChange(name, d.info().numel(), d.count(), Math.sqrt(sq), baseNorm(base, name), max));
            }
        }
        return out;
    }

    /** How {@code p} meets each of {@code others} (same branch): overlap, sign agreement and cosine. */
    public List<Conflict> conflicts(ProposalRecord p, List<ProposalRecord> others) {
        List<Conflict> out = new ArrayList<>();
        if (!hasPayload(p)) {
            return out;
        }
        try (Arena arena = Arena.ofConfined()) {
            Map<String, SparseTensorDelta> mine = decode(p, arena);
            double myNorm = norm(mine);
            for (ProposalRecord o : others) {
                if (o.id().equals(p.id()) || !o.branch().equals(p.branch()) || !hasPayload(o)) {
                    continue;
                }
                try (Arena a = Arena.ofConfined()) {
                    Map<String, SparseTensorDelta> theirs = decode(o, a);
                    long overlap = 0;
                    long agree = 0;
                    double dot = 0;
                    List<String> shared = new ArrayList<>();
                    for (Map.Entry<String, SparseTensorDelta> e : mine.entrySet()) {
                        SparseTensorDelta t = theirs.get(e.getKey());
                        if (t == null) {
                            continue;
                        }
                        Pair pr = pair(e.getValue(), t);
                        if (pr.overlap > 0) {
                            shared.add(e.getKey());
                        }
                        overlap += pr.overlap;
                        agree += pr.agree;
                        dot += pr.dot;
                    }
                    double theirNorm = norm(theirs);
                    double cosine = myNorm == 0 || theirNorm == 0 ? Double.NaN : dot / (myNorm * theirNorm);
                    out.add(new Conflict(o.id(), o.contributor(), o.status().name().toLowerCase(), overlap, agree, cosine, shared));
                }
            }
        }
        return out;
    }

    /** Accepted proposals keep their payload (also once merged or rejected in review); those rejected on arrival have none. */
    private boolean hasPayload(ProposalRecord p) {
        if (p.tensors().isEmpty()) {
            return false;
        }
        try {
            store.delta(p.id(), 0);
            return true;
        } catch (NotFoundException e) {
            return false;
        }
    }

    private record Pair(long overlap, long agree, double dot) {}

    /** Walks two sorted position lists once. */
    private static Pair pair(SparseTensorDelta a, SparseTensorDelta b) {
        long i = 0;
        long j = 0;
        long overlap = 0;
        long agree = 0;
        double dot = 0;
        while (i < a.count() && j < b.count()) {
            long pa = a.position(i);
            long pb = b.position(j);
            if (pa < pb) {
                i++;
            } else if (pb < pa) {
                j++;
            } else {
                float va = a.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i);
                float vb = b.values().getAtIndex(SparseTensorDelta.ADD_VALUE, j);
                if (va != 0 && vb != 0) {
                    overlap++;
                    if ((va > 0) == (vb > 0)) {
                        agree++;
                    }
                }
                dot += (double) va * vb;
                i++;
                j++;
            }
        }
        return new Pair(overlap, agree, dot);
    }

    private static double norm(Map<String, SparseTensorDelta> deltas) {
        double sq = 0;
        for (SparseTensorDelta d : deltas.values()) {
            for (long i = 0; i < d.count(); i++) {
                double v = d.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i);
                sq += v * v;
            }
        }
        return Math.sqrt(sq);
    }

    /** The proposal's deltas as additive float32 changes, by tensor, in payload order. */
    private Map<String, SparseTensorDelta> decode(ProposalRecord p, Arena arena) {
        Map<String, TensorInfo> layout = new LinkedHashMap<>();
        repo.manifestOf(ObjectId.fromString(p.baseVersion())).layout().forEach(t -> layout.put(t.name(), t));
        Map<String, SparseTensorDelta> out = new LinkedHashMap<>();
        List<String> names = p.tensors();
        for (int part = 0; part < names.size(); part++) {
            TensorInfo info = layout.get(names.get(part));
            byte[] enc = store.delta(p.id(), part);
            MemorySegment seg = arena.allocate(enc.length, 8);
            MemorySegment.copy(MemorySegment.ofArray(enc), 0, seg, 0, enc.length);
            SparseTensorDelta d = DeltaCodec.decode(seg, DecodeOptions.defaults().expecting(info), arena).toSparse(arena);
            if (d.semantics() != SparseTensorDelta.Semantics.ADD) {
                throw new IllegalStateException("proposal " + p.id() + ", tensor '" + info.name() + "': stored delta is not additive");
            }
            out.put(info.name(), d);
        }
        return out;
    }

    private double baseNorm(ObjectId base, String tensor) {
        String key = base.name() + "/" + tensor;
        Double known = baseNorms.get(key);
        if (known != null) {
            return known;
        }
        double sq = 0;
        try (SafetensorsFile f = repo.openVersion(base)) {
            TensorInfo t = f.info(tensor).orElseThrow();
            MemorySegment data = f.data(tensor);
            for (long i = 0; i < t.numel(); i++) {
                double v = t.dtype().getDouble(data, i);
                sq += v * v;
            }
        }
        double n = Math.sqrt(sq);
        baseNorms.put(key, n);
        return n;
    }
}
