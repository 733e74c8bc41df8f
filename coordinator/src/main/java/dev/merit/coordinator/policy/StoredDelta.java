package dev.merit.coordinator.policy;

import dev.merit.codec.DecodeOptions;
import dev.merit.codec.DeltaCodec;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalStore;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.merge.SparseDeltaSource;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A stored proposal as a merge input: each tensor's delta is decoded from its record when the
 * merge reaches that tensor and freed when the merge releases it.
 */
final class StoredDelta implements SparseDeltaSource, AutoCloseable {

    private final ProposalStore store;
    private final ProposalRecord proposal;
    private final Map<String, TensorInfo> layout;
    private final Map<String, Integer> parts = new HashMap<>();
    private final Map<String, Arena> arenas = new HashMap<>();
    private final Map<String, SparseTensorDelta> deltas = new HashMap<>();
    private final Map<String, MemorySegment> fishers = new HashMap<>();

    StoredDelta(ProposalStore store, ProposalRecord proposal, Map<String, TensorInfo> layout) {
        this.store = store;
        this.proposal = proposal;
        this.layout = layout;
        List<String> names = proposal.tensors();
        for (int i = 0; i < names.size(); i++) {
            parts.put(names.get(i), i);
        }
    }

    @Override
    public Set<String> tensorNames() {
        return new LinkedHashSet<>(proposal.tensors());
    }

    private synchronized void load(String tensor) {
        if (deltas.containsKey(tensor) || !parts.containsKey(tensor)) {
            return;
        }
        int part = parts.get(tensor);
        Arena arena = Arena.ofShared();
        arenas.put(tensor, arena);
        byte[] enc = store.delta(proposal.id(), part);
        MemorySegment seg = arena.allocate(enc.length, 8);
        MemorySegment.copy(MemorySegment.ofArray(enc), 0, seg, 0, enc.length);
        deltas.put(tensor, DeltaCodec.decode(seg, DecodeOptions.defaults().expecting(layout.get(tensor)), arena).toSparse(arena));
        store.fisher(proposal.id(), part).ifPresent(f -> {
            MemorySegment fs = arena.allocate(f.length, 8);
            MemorySegment.copy(MemorySegment.ofArray(f), 0, fs, 0, f.length);
            fishers.put(tensor, fs);
        });
    }

    @Override
    public synchronized Optional<SparseTensorDelta> delta(String tensor) {
        load(tensor);
        return Optional.ofNullable(deltas.get(tensor));
    }

    @Override
    public synchronized Optional<MemorySegment> fisher(String tensor) {
        load(tensor);
        return Optional.ofNullable(fishers.get(tensor));
    }

    @Override
    public boolean hasFisher() {
        return proposal.hasFisher();
    }

    @Override
    public synchronized void release(String tensor) {
        deltas.remove(tensor);
        fishers.remove(tensor);
        Arena a = arenas.remove(tensor);
        if (a != null) {
            a.close();
        }
    }

    @Override
    public String describe() {
        return "proposal " + proposal.id() + " by " + proposal.contributor();
    }

    @Override
    public synchronized void close() {
        arenas.values().forEach(Arena::close);
        arenas.clear();
        deltas.clear();
        fishers.clear();
    }
}
