package dev.merit.merge;

import dev.merit.delta.SparseTensorDelta;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a sparse merge ({@link Merger#mergeSparse}) produced: the merged model as the base plus
 * one SET delta per changed tensor.
 *
 * @param changes    per changed tensor (in the base's order), the new values, in the tensor's dtype,
 *                   at the positions whose bits differ from the base's; tensors not here keep the base
 * @param tensors    tensors some input touched (the ones merged)
 * @param positions  entries merged: the sizes of the unions of the inputs' positions
 * @param changed    entries in {@code changes}
 * @param nanos      wall time of the merge
 * @param selected   labels of the inputs Krum / Multi-Krum chose, per rule pattern; empty otherwise
 * @param statistics per-tensor and overall statistics of the inputs' changes, if asked for
 */
public record SparseMergeResult(Map<String, SparseTensorDelta> changes, int tensors, long positions, long changed,
                                long nanos, Map<String, List<String>> selected, Optional<MergeStatistics> statistics) {

    public SparseMergeResult {
        changes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(changes));
        selected = Map.copyOf(selected);
    }

    /** The same facts in a {@link MergeResult} (elements = merged entries, bytes = the changed values' bytes). */
    public MergeResult summary() {
        long bytes = changes.values().stream().mapToLong(d -> d.count() * d.info().dtype().byteSize()).sum();
        return new MergeResult(tensors, positions, bytes, nanos, selected, statistics);
    }
}
