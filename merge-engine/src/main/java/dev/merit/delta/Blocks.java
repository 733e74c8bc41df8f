package dev.merit.delta;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/**
 * Splits tensor pairs into fixed-size blocks of elements, in tensor order then position, and runs
 * work over them on both cores. Results are kept per block and combined in block order by the
 * callers, so every sum and every tie-break is the same whatever the thread schedule.
 */
final class Blocks {

    /** Elements per block: big enough to amortise scheduling, small enough to balance two cores. */
    static final long BLOCK = 1L << 18;

    /** A run [start, end) of elements of tensor {@code tensor} (index into the pair list). */
    record Block(int tensor, long start, long end) {}

    interface BlockTask {
        void run(Chunk scratch, int block);
    }

    private Blocks() {}

    static List<Block> split(List<TensorPair> pairs) {
        List<Block> blocks = new ArrayList<>();
        for (int t = 0; t < pairs.size(); t++) {
            long n = pairs.get(t).info().numel();
            for (long s = 0; s < n; s += BLOCK) {
                blocks.add(new Block(t, s, Math.min(n, s + BLOCK)));
            }
        }
        return blocks;
    }

    /**
     * Runs {@code task} once per block, in parallel when {@code parallel}; each worker gets its
     * own scratch {@link Chunk}. Returns every scratch used, so callers can merge what workers
     * accumulated in them.
     */
    static List<Chunk> forEach(int blocks, boolean parallel, BlockTask task) {
        if (parallel && blocks > 1) {
            return IntStream.range(0, blocks).parallel().collect(
                    () -> new ArrayList<>(List.of(new Chunk())),
                    (scratch, b) -> task.run(scratch.getFirst(), b),
                    ArrayList::addAll);
        }
        Chunk scratch = new Chunk();
        for (int b = 0; b < blocks; b++) {
            task.run(scratch, b);
        }
        return List.of(scratch);
    }

    private static final Thread PROBE = Thread.ofVirtual().unstarted(() -> { });

    /** True if threads other than the caller may access all of {@code segments}. */
    static boolean shareable(List<TensorPair> pairs) {
        for (TensorPair p : pairs) {
            if (!shareable(p.before()) || !shareable(p.after())) {
                return false;
            }
        }
        return true;
    }

    static boolean shareable(MemorySegment s) {
        return s.isAccessibleBy(PROBE);
    }
}
