package dev.merit.delta;

import dev.merit.error.InvalidInputException;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Chooses which entries of a change between two versions to keep, and returns them as SET deltas
 * (the new values at the kept positions, in each tensor's own dtype):
 * <ul>
 *   <li>{@link #topK(long)}: the k entries with the largest |after - before| over all tensors
 *       together, ties broken by tensor order then position;</li>
 *   <li>{@link #density(double)}: top-k with k = density x total number of entries, as FISH-style
 *       sparse updates count it;</li>
 *   <li>{@link #threshold(double)}: every entry with |after - before| > T;</li>
 *   <li>{@link #allChanges()}: every entry whose bits differ, for lossless commits.</li>
 * </ul>
 * Entries whose change is zero are never kept by the first three. Integer and BOOL tensors take
 * part with their numeric change. A NaN or infinite change ranks above every finite one, so
 * top-k and thresholds keep it rather than silently hide it (validation refuses it later);
 * such changes are left out of the norms in {@link SparsifyResult}.
 *
 * <p>Top-k does not sort: it finds the k-th largest |change| with a radix select over the bits of
 * |change| as a double (one histogram pass per 16 bits, usually one or two, then an exact pass
 * over the few candidates in the final bucket), followed by a counting pass and a filling pass.
 * Every pass streams over the tensors in blocks on both cores; the Java heap holds a histogram per
 * worker and at most {@value #MAX_CANDIDATES} candidate keys, however large the model.
 */
public final class Sparsifier {

    /** Largest final bucket whose keys are collected and sorted instead of refined by another pass. */
    static final int MAX_CANDIDATES = 1 << 20;

    private enum Mode { TOP_K, DENSITY, THRESHOLD, ALL }

    private final Mode mode;
    private final long k;
    private final double value;

    private Sparsifier(Mode mode, long k, double value) {
        this.mode = mode;
        this.k = k;
        this.value = value;
    }

    /** Keeps the {@code k} largest changes (fewer if fewer entries changed). */
    public static Sparsifier topK(long k) {
        if (k < 0) {
            throw new IllegalArgumentException("k must be >= 0, got " + k);
        }
        return new Sparsifier(Mode.TOP_K, k, 0);
    }

    /** Keeps the {@code round(density x total entries)} largest changes; density in [0, 1]. */
    public static Sparsifier density(double density) {
        if (!(density >= 0 && density <= 1)) {
            throw new IllegalArgumentException("density must be in [0, 1], got " + density);
        }
        return new Sparsifier(Mode.DENSITY, 0, density);
    }

    /** Keeps every change with |change| > {@code t}; {@code t} >= 0. */
    public static Sparsifier threshold(double t) {
        if (!(t >= 0)) {
            throw new IllegalArgumentException("threshold must be >= 0, got " + t);
        }
        return new Sparsifier(Mode.THRESHOLD, 0, t);
    }

    /** Keeps every entry whose bits differ. */
    public static Sparsifier allChanges() {
        return new Sparsifier(Mode.ALL, 0, 0);
    }

    /**
     * Sparsifies the change from {@code before} to {@code after}, which must hold the same tensors
     * with the same dtypes and shapes; tensors are taken in {@code before}'s order.
     */
    public SparsifyResult sparsify(TensorSource before, TensorSource after, Arena arena) {
        List<TensorPair> pairs = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (TensorInfo b : before.tensors()) {
            Optional<TensorInfo> a = after.info(b.name());
            if (a.isEmpty()) {
                throw new InvalidInputException(after.describe() + ": tensor '" + b.name() + "' of "
                        + before.describe() + " is missing");
            }
            if (!a.get().sameLayout(b)) {
                throw new InvalidInputException(after.describe() + ": tensor '" + b.name() + "' is " + a.get().dtype()
                        + " " + a.get().shapeString() + " but " + b.dtype() + " " + b.shapeString() + " in " + before.describe());
            }
            names.add(b.name());
            pairs.add(new TensorPair(b, before.data(b.name()), after.data(b.name())));
        }
        for (TensorInfo a : after.tensors()) {
            if (!names.contains(a.name())) {
                throw new InvalidInputException(after.describe() + ": tensor '" + a.name() + "' is not in " + before.describe());
            }
        }
        return sparsify(pairs, arena);
    }

    /** Sparsifies the change of each pair; deltas come back in the pairs' order. */
    public SparsifyResult sparsify(List<TensorPair> pairs, Arena arena) {
        List<Blocks.Block> blocks = Blocks.split(pairs);
        boolean parallel = Blocks.shareable(pairs);
        boolean everyDifference = mode == Mode.ALL;
        Cut cut = switch (mode) {
            case ALL -> new Cut(0, 0);
            case THRESHOLD -> new Cut(Double.doubleToRawLongBits(value), 0);
            case TOP_K -> select(pairs, blocks, parallel, k);
            case DENSITY -> {
                long total = pairs.stream().mapToLong(p -> p.info().numel()).sum();
                yield select(pairs, blocks, parallel, Math.round(value * total));
            }
        };

        // Count per block what lies above the cut and on it, and the norm of all finite changes.
        int nb = blocks.size();
        long[] above = new long[nb];
        long[] on = new long[nb];
        long[] nonZero = new long[nb];
        double[] changeSq = new double[nb];
        Blocks.forEach(nb, parallel, (c, b) -> {
            Blocks.Block block = blocks.get(b);
            long gt = 0, eq = 0, nz = 0;
            double sq = 0;
            c.start(pairs.get(block.tensor()), block);
            while (c.next()) {
                c.computeKeys(everyDifference);
                for (int i = 0; i < c.n; i++) {
                    long key = c.keys[i];
                    if (key != 0) {
                        nz++;
                        if (key > cut.key()) {
                            gt++;
                        } else if (key == cut.key()) {
                            eq++;
                        }
                        if (key != Chunk.NON_FINITE_KEY) {
                            double d = c.change(i);
                            sq += d * d;
                        }
                    }
                }
            }
            above[b] = gt;
            on[b] = eq;
            nonZero[b] = nz;
            changeSq[b] = sq;
        });

        // Hand the ties out in block order (tensor order, then position) and size each tensor's delta.
        long[] keepOn = new long[nb];
        long[] outStart = new long[nb];
        long[] perTensor = new long[pairs.size()];
        long ties = cut.ties();
        for (int b = 0; b < nb; b++) {
            keepOn[b] = Math.min(on[b], ties);
            ties -= keepOn[b];
            int t = blocks.get(b).tensor();
            outStart[b] = perTensor[t];
            perTensor[t] += above[b] + keepOn[b];
        }
        List<SparseTensorDelta> deltas = new ArrayList<>(pairs.size());
        boolean outputShareable = true;
        for (int t = 0; t < pairs.size(); t++) {
            TensorInfo info = pairs.get(t).info();
            long count = perTensor[t];
            MemorySegment positions = arena.allocate(count * Long.BYTES, Long.BYTES);
            MemorySegment values = arena.allocate(count * info.dtype().byteSize(), Long.BYTES);
            outputShareable &= Blocks.shareable(positions);
            deltas.add(new SparseTensorDelta(info, SparseTensorDelta.Semantics.SET, count, positions, values));
        }

        double[] keptSq = new double[nb];
        Blocks.forEach(nb, parallel && outputShareable, (c, b) -> {
            Blocks.Block block = blocks.get(b);
            SparseTensorDelta delta = deltas.get(block.tensor());
            int size = delta.info().dtype().byteSize();
            long out = outStart[b];
            long tiesLeft = keepOn[b];
            double sq = 0;
            c.start(pairs.get(block.tensor()), block);
            while (c.next()) {
                c.computeKeys(everyDifference);
                for (int i = 0; i < c.n; i++) {
                    long key = c.keys[i];
                    if (key == 0) {
                        continue;
                    }
                    boolean keep = key > cut.key();
                    if (!keep && key == cut.key() && tiesLeft > 0) {
                        keep = true;
                        tiesLeft--;
                    }
                    if (keep) {
                        delta.positions().setAtIndex(SparseTensorDelta.POSITION, out, c.first + i);
                        putBits(delta.values(), out, size, c.afterBits[i]);
                        out++;
                        if (key != Chunk.NON_FINITE_KEY) {
                            double d = c.change(i);
                            sq += d * d;
                        }
                    }
                }
            }
            keptSq[b] = sq;
        });

        long kept = 0, changed = 0;
        double total = 0, keptTotal = 0;
        for (int b = 0; b < nb; b++) {
            kept += above[b] + keepOn[b];
            changed += nonZero[b];
            total += changeSq[b];
            keptTotal += keptSq[b];
        }
        double threshold = mode == Mode.ALL ? 0 : Double.longBitsToDouble(Math.min(cut.key(), Chunk.NON_FINITE_KEY));
        return new SparsifyResult(deltas, kept, changed, threshold, Math.sqrt(keptTotal), Math.sqrt(total));
    }

    private static void putBits(MemorySegment values, long index, int size, long bits) {
        switch (size) {
            case 8 -> values.setAtIndex(Chunk.LE_LONG, index, bits);
            case 4 -> values.setAtIndex(Chunk.LE_INT, index, (int) bits);
            case 2 -> values.setAtIndex(Chunk.LE_SHORT, index, (short) bits);
            default -> values.set(ValueLayout.JAVA_BYTE, index, (byte) bits);
        }
    }

    /** Keep entries whose key is above {@code key}, plus the first {@code ties} entries whose key equals it. */
    private record Cut(long key, long ties) {}

    /**
     * Finds the cut for the {@code k} largest keys. Each pass histograms the next 16 bits of the
     * keys that share the bits fixed so far, and picks the bucket holding the k-th largest; once
     * that bucket is small (or all 64 bits are fixed) its keys are collected and sorted.
     */
    private static Cut select(List<TensorPair> pairs, List<Blocks.Block> blocks, boolean parallel, long k) {
        if (k == 0) {
            return new Cut(Long.MAX_VALUE, 0);
        }
        long need = k;     // rank of the wanted key among those sharing the prefix, from the top
        long prefix = 0;   // the key bits above 'shift' fixed so far
        for (int level = 0; level < 4; level++) {
            int shift = 48 - 16 * level;
            long[] hist = histogram(pairs, blocks, parallel, level, prefix, shift);
            if (level == 0) {
                long nonZero = Arrays.stream(hist).sum();
                if (k >= nonZero) {
                    return new Cut(0, 0); // keep every non-zero change
                }
            }
            int bucket = 0xffff;
            while (need > hist[bucket]) {
                need -= hist[bucket];
                bucket--;
            }
            prefix = (prefix << 16) | bucket;
            if (level == 3) {
                return new Cut(prefix, need);
            }
            if (hist[bucket] <= MAX_CANDIDATES) {
                long[] keys = collect(pairs, blocks, parallel, prefix, shift, (int) hist[bucket]);
                Arrays.sort(keys);
                long t = keys[keys.length - (int) need];
                long above = keys.length - upperBound(keys, t);
                return new Cut(t, need - above);
            }
        }
        throw new AssertionError("unreachable");
    }

    /** Index of the first element greater than {@code t} in sorted {@code keys}. */
    private static int upperBound(long[] keys, long t) {
        int lo = 0, hi = keys.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (keys[mid] <= t) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private static boolean matches(long key, int level, long prefix, int shift) {
        return key != 0 && (level == 0 || (key >>> (shift + 16)) == prefix);
    }

    private static long[] histogram(List<TensorPair> pairs, List<Blocks.Block> blocks, boolean parallel,
                                     int level, long prefix, int shift) {
        List<Chunk> workers = Blocks.forEach(blocks.size(), parallel, (c, b) -> {
            Blocks.Block block = blocks.get(b);
            long[] hist = c.histogram();
            c.start(pairs.get(block.tensor()), block);
            while (c.next()) {
                c.computeKeys(false);
                for (int i = 0; i < c.n; i++) {
                    long key = c.keys[i];
                    if (matches(key, level, prefix, shift)) {
                        hist[(int) (key >>> shift) & 0xffff]++;
                    }
                }
            }
        });
        long[] total = new long[1 << 16];
        for (Chunk w : workers) {
            long[] hist = w.histogram();
            for (int i = 0; i < total.length; i++) {
                total[i] += hist[i];
            }
        }
        return total;
    }

    private static long[] collect(List<TensorPair> pairs, List<Blocks.Block> blocks, boolean parallel,
                                  long prefix, int shift, int expected) {
        long[] out = new long[expected];
        int[] next = {0};
        Object lock = new Object();
        Blocks.forEach(blocks.size(), parallel, (c, b) -> {
            Blocks.Block block = blocks.get(b);
            long[] local = new long[64];
            int n = 0;
            c.start(pairs.get(block.tensor()), block);
            while (c.next()) {
                c.computeKeys(false);
                for (int i = 0; i < c.n; i++) {
                    long key = c.keys[i];
                    if (key != 0 && (key >>> shift) == prefix) {
                        if (n == local.length) {
                            local = Arrays.copyOf(local, local.length * 2);
                        }
                        local[n++] = key;
                    }
                }
            }
            synchronized (lock) {
                System.arraycopy(local, 0, out, next[0], n);
                next[0] += n;
            }
        });
        return out;
    }
}
