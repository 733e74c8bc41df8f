package dev.merit.coordinator.policy;

import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalStore;
import dev.merit.merge.GramMatrix;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A stored proposal's Gram matrices as a merge input's {@code gram} source (regmean). Each matrix
 * is copied off the heap when the merge first asks for it and stays until the source is closed;
 * packed matrices are marked so in the metadata, as {@link GramMatrix} expects.
 */
final class StoredGram implements dev.merit.tensor.TensorSource {

    private final ProposalStore store;
    private final ProposalRecord proposal;
    private final List<TensorInfo> layout;
    private final Map<String, Integer> index = new HashMap<>();
    private final Map<String, MemorySegment> loaded = new HashMap<>();
    private final Arena arena = Arena.ofShared();

    private StoredGram(ProposalStore store, ProposalRecord proposal, List<TensorInfo> layout) {
        this.store = store;
        this.proposal = proposal;
        this.layout = layout;
        for (int i = 0; i < layout.size(); i++) {
            index.put(layout.get(i).name(), i);
        }
    }

    /** The proposal's Gram matrices, or empty if it came without them. */
    static Optional<StoredGram> of(ProposalStore store, ProposalRecord proposal) {
        List<TensorInfo> layout = store.gramLayout(proposal.id());
        return layout.isEmpty() ? Optional.empty() : Optional.of(new StoredGram(store, proposal, layout));
    }

    @Override
    public List<TensorInfo> tensors() {
        return layout;
    }

    @Override
    public Optional<TensorInfo> info(String name) {
        Integer i = index.get(name);
        return i == null ? Optional.empty() : Optional.of(layout.get(i));
    }

    @Override
    public synchronized MemorySegment data(String name) {
        return loaded.computeIfAbsent(name, n -> {
            Integer i = index.get(n);
            if (i == null) {
                throw new IllegalArgumentException(describe() + " has no Gram matrix '" + n + "'");
            }
            byte[] b = store.gram(proposal.id(), i);
            MemorySegment seg = arena.allocate(b.length, 8);
            MemorySegment.copy(MemorySegment.ofArray(b), 0, seg, 0, b.length);
            return seg;
        });
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of(GramMatrix.FORMAT_KEY, GramMatrix.PACKED_UPPER);
    }

    @Override
    public String describe() {
        return "Gram matrices of proposal " + proposal.id() + " by " + proposal.contributor();
    }

    @Override
    public synchronized void close() {
        loaded.clear();
        arena.close();
    }
}
