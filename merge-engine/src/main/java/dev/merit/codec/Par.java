package dev.merit.codec;

import java.lang.foreign.MemorySegment;
import java.util.stream.LongStream;

/** Splits element loops into ranges run on the common pool when the segments allow other threads. */
final class Par {

    /** Elements per task: large enough that scheduling costs nothing next to the work. */
    static final long GRAIN = 1 << 16;
    private static final Thread PROBE = Thread.ofPlatform().unstarted(() -> {});

    private Par() {}

    interface RangeBody {
        void run(long from, long to);
    }

    /**
     * A scratch arena for work on {@code bytes} bytes: shared (so pool threads can help) only when
     * the work is big enough to repay a shared arena's costlier close.
     */
    static java.lang.foreign.Arena scratch(long bytes) {
        return bytes >= 4 * GRAIN ? java.lang.foreign.Arena.ofShared() : java.lang.foreign.Arena.ofConfined();
    }

    /** True if every segment may be touched from pool threads (not confined to one thread). */
    static boolean shareable(MemorySegment... segments) {
        for (MemorySegment s : segments) {
            if (s != null && !s.isAccessibleBy(PROBE)) {
                return false;
            }
        }
        return true;
    }

    /** Runs {@code body} over [0, n) in ranges of {@code grain} (a multiple of any block the body needs). */
    static void ranges(long n, long grain, boolean parallel, RangeBody body) {
        long tasks = (n + grain - 1) / grain;
        if (!parallel || tasks <= 1) {
            if (n > 0) {
                body.run(0, n);
            }
            return;
        }
        LongStream.range(0, tasks).parallel().forEach(t -> body.run(t * grain, Math.min(n, (t + 1) * grain)));
    }
}
