package dev.merit.merge;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a merge did.
 *
 * @param tensors    tensors written
 * @param elements   elements written
 * @param bytes      bytes written
 * @param nanos      wall time of the merge
 * @param selected   labels of the inputs Krum / Multi-Krum chose, per rule pattern ("*" for the recipe's own strategy); empty otherwise
 * @param statistics per-tensor and overall statistics of the inputs' changes, if asked for
 */
public record MergeResult(int tensors, long elements, long bytes, long nanos,
                          Map<String, List<String>> selected, Optional<MergeStatistics> statistics) {

    public MergeResult {
        selected = Map.copyOf(selected);
    }

    /** Output bytes per second. */
    public double bytesPerSecond() {
        return nanos == 0 ? 0 : bytes * 1e9 / nanos;
    }
}
