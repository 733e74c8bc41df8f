package dev.merit.merge;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The merge of sparse inputs at the union of their positions only (see
 * {@link Merger#mergeSparse}): per tensor, the inputs' entries are gathered group by group
 * (a group is the union positions inside one dense block), merged with the same kernels as the
 * dense pass, and kept where the result's bits differ from the base's. Tensors run in parallel;
 * each tensor's groups go in order, so results do not depend on the number of threads.
 */
final class SparseMerge {

    private final MergePlan plan;
    private final int n;

    SparseMerge(MergePlan plan) {
        this.plan = plan;
        this.n = plan.n;
    }

    /**
     * Why this plan cannot be merged sparsely, or null: every input must be sparse, floating-point
     * tensors keep their dtype, and no Fisher rule normalizes a base Fisher file (its mean is
     * over the whole model).
     */
    static String obstacle(MergePlan plan) {
        for (MergeInput in : plan.inputs) {
            if (in.kind() != MergeInput.Kind.SPARSE) {
                return plan.who(in) + " is a " + in.kind().name().toLowerCase(Locale.ROOT) + ", not a sparse delta";
            }
        }
        for (TensorCtx c : plan.tensors) {
            if (c.out.dtype() != c.ref.dtype()) {
                return "tensor '" + c.name() + "' changes dtype (" + c.ref.dtype() + " to " + c.out.dtype() + ")";
            }
        }
        for (TensorCtx c : plan.tensors) {
            if (c.rule.strategy() == Strategy.REGMEAN) {
                return "strategy 'regmean' changes every entry of linear layer '" + c.name() + "'";
            }
        }
        for (Rule r : plan.allRules()) {
            MergeParameters p = r.params();
            if (r.strategy() == Strategy.FISHER && p.normalizeFishers() && p.favorBase() && plan.baseFisher != null) {
                return "normalize_fishers with a base Fisher file needs the base Fisher's mean over the whole model";
            }
        }
        return null;
    }

    /** Runs the sparse merge; the returned deltas' memory belongs to {@code arena}. */
    SparseMergeResult run(ForkJoinPool pool, Arena arena) {
        long t0 = System.nanoTime();
        // Workers write into a shared arena; the caller's may be confined to its thread.
        try (Arena scratch = Arena.ofShared()) {
            Scan scan = plan.needsScan() ? scan(pool) : null;
            Map<String, List<String>> selected = TensorSettings.derive(plan, scan);
            SparseTensorDelta[] out = new SparseTensorDelta[plan.tensors.size()];
            long[] positions = new long[plan.tensors.size()];
            AtomicInteger done = new AtomicInteger();
            AtomicLong bytes = new AtomicLong();
            List<TensorCtx> work = plan.tensors.stream().filter(this::touched).toList();
            long total = work.stream().mapToLong(c -> c.out.byteSize()).sum();
            pool.submit(() -> work.parallelStream().forEach(c -> {
                try (OpenedTensor o = new OpenedTensor(plan, c, c.rule.strategy() == Strategy.FISHER)) {
                    Union u = Union.of(o, plan.blockSize);
                    positions[c.index] = u.size();
                    if (c.rule.strategy() == Strategy.TIES) {
                        c.thr = Ties.sparseThresholds(this, o, u);
                    }
                    out[c.index] = mergeTensor(o, u, scratch);
                }
                plan.progress.progress(new ProgressListener.Progress("merge", done.incrementAndGet(), work.size(),
                        bytes.addAndGet(c.out.byteSize()), total));
            })).join();
            Map<String, SparseTensorDelta> changes = new LinkedHashMap<>();
            long changed = 0;
            for (TensorCtx c : plan.tensors) {
                SparseTensorDelta d = out[c.index];
                if (d != null && d.count() > 0) {
                    long pb = d.count() * Long.BYTES;
                    long vb = d.count() * d.info().dtype().byteSize();
                    MemorySegment ps = arena.allocate(pb, 8).copyFrom(d.positions().asSlice(0, pb));
                    MemorySegment vs = arena.allocate(vb, 8).copyFrom(d.values().asSlice(0, vb));
                    changes.put(c.name(), new SparseTensorDelta(d.info(), d.semantics(), d.count(), ps, vs));
                    changed += d.count();
                }
            }
            Optional<MergeStatistics> stats = plan.statistics ? Optional.of(scan.statistics()) : Optional.empty();
            return new SparseMergeResult(changes, work.size(), Arrays.stream(positions).sum(), changed,
                    System.nanoTime() - t0, selected, stats);
        }
    }

    /** A merged tensor some input changed. */
    private boolean touched(TensorCtx c) {
        return c.merged && plan.inputs.stream().anyMatch(in -> in.sparse().tensorNames().contains(c.name()));
    }

    /**
     * The sorted union of the inputs' positions in one tensor, cut into groups that each lie in
     * one block [k * blockSize, (k + 1) * blockSize) of the tensor: a group fits a {@link Block},
     * and summing group by group adds the same terms in the same order as the dense pass.
     */
    record Union(long[] pos, int[] groupStart) {

        static Union of(OpenedTensor o, int blockSize) {
            long total = 0;
            int touching = 0;
            for (SparseTensorDelta sd : o.sparse) {
                if (sd != null && sd.count() > 0) {
                    total += sd.count();
                    touching++;
                }
            }
            if (total > Integer.MAX_VALUE - 16) {
                throw new InvalidInputException("tensor '" + o.c.name() + "': " + total + " changed entries in one tensor"
                        + " are more than a sparse merge holds; merge densely");
            }
            long[] all = new long[(int) total];
            int k = 0;
            for (SparseTensorDelta sd : o.sparse) {
                if (sd != null && sd.count() > 0) {
                    MemorySegment.copy(sd.positions(), SparseTensorDelta.POSITION, 0, all, k, (int) sd.count());
                    k += (int) sd.count();
                }
            }
            int size = all.length;
            if (touching > 1) { // one input's positions are already sorted and distinct
                Arrays.sort(all);
                size = 0;
                for (int q = 0; q < all.length; q++) {
                    if (size == 0 || all[q] != all[size - 1]) {
                        all[size++] = all[q];
                    }
                }
            }
            int groups = 0;
            for (int q = 0; q < size; q++) {
                if (q == 0 || all[q] / blockSize != all[q - 1] / blockSize) {
                    groups++;
                }
            }
            int[] gs = new int[groups + 1];
            int g = 0;
            for (int q = 0; q < size; q++) {
                if (q == 0 || all[q] / blockSize != all[q - 1] / blockSize) {
                    gs[g++] = q;
                }
            }
            gs[groups] = size;
            return new Union(size == all.length ? all : Arrays.copyOf(all, size), gs);
        }

        int size() {
            return pos.length;
        }

        int groups() {
            return groupStart.length - 1;
        }
    }

    /**
     * Points block {@code b} at union positions [from, from + len) and loads the base's values
     * there; returns the last position, which bounds the inputs' entries to consume.
     */
    private static long loadUnionBase(Block b, OpenedTensor o, Union u, int from, int len) {
        b.len = len;
        b.gathered = true;
        long[] pos = b.pos;
        System.arraycopy(u.pos(), from, pos, 0, len);
        b.start = pos[0];
        float[] bs = b.base;
        for (int j = 0; j < len; j++) {
            bs[j] = o.baseType.getFloat(o.base, pos[j]);
        }
        return pos[len - 1];
    }

    /**
     * Loads the union positions [from, from + len) of every input into {@code b}'s columns, as
     * {@link OpenedTensor#load} would load them in a contiguous block: untouched inputs give 0
     * with mask 0. {@code cursor[i]} is input i's first entry not yet consumed; groups go in order.
     */
    void gather(Block b, OpenedTensor o, Union u, int from, int len, long[] cursor, boolean raw) {
        long last = loadUnionBase(b, o, u, from, len);
        long[] pos = b.pos;
        float[] bs = b.base;
        for (int i = 0; i < n; i++) {
            float[] d = b.d[i];
            float[] m = b.m[i];
            float[] f = b.f[i];
            Arrays.fill(d, 0, len, 0f);
            Arrays.fill(m, 0, len, 0f);
            if (o.withFisher) {
                Arrays.fill(f, 0, len, 0f);
            }
            SparseTensorDelta sd = o.sparse[i];
            if (sd != null) {
                boolean add = sd.semantics() == SparseTensorDelta.Semantics.ADD;
                DType vt = sd.valueType();
                MemorySegment values = sd.values();
                MemorySegment fisher = o.sparseFisher[i];
                long k = cursor[i];
                int j = 0;
                for (; k < sd.count(); k++) {
                    long p = sd.position(k);
                    if (p > last) {
                        break;
                    }
                    while (pos[j] < p) { // every input position is in the union
                        j++;
                    }
                    d[j] = add ? values.getAtIndex(SparseTensorDelta.ADD_VALUE, k) : vt.getFloat(values, k) - bs[j];
                    m[j] = 1f;
                    if (fisher != null) {
                        f[j] = fisher.getAtIndex(BlockIO.F32, k);
                    }
                }
                cursor[i] = k;
            }
            if (!raw) {
                o.adjust(b, i, len);
            }
        }
        MergeParameters p = o.c.rule.params();
        if (o.withFisher && p.favorBase()) {
            float[] bf = b.baseFisher;
            for (int j = 0; j < len; j++) {
                bf[j] = o.baseFisherSeg != null ? o.baseFisherType.getFloat(o.baseFisherSeg, pos[j]) : (float) p.baseFisherValue();
            }
            if (!raw) {
                o.adjustBaseFisher(b, len);
            }
        }
    }

    /**
     * The scan pass over the inputs' supports: tensors in parallel, each tensor's groups in
     * order, summed per chunk and then chunk by chunk like {@link Scan#dense}, so both scans
     * give the same bits (an untouched block or chunk only adds zeros).
     */
    private Scan scan(ForkJoinPool pool) {
        Scan s = new Scan(plan);
        boolean pairs = plan.needsPairs();
        int blockSize = plan.blockSize;
        List<TensorCtx> work = plan.tensors.stream().filter(this::touched).toList();
        AtomicInteger done = new AtomicInteger();
        AtomicLong bytes = new AtomicLong();
        long total = work.stream().mapToLong(c -> c.out.byteSize()).sum();
        pool.submit(() -> work.parallelStream().forEach(c -> {
            MergeParameters p = c.rule.params();
            Scan.Sums tensorSums = s.tensor[c.index];
            Block b = plan.borrow();
            try (OpenedTensor o = new OpenedTensor(plan, c, c.rule.strategy() == Strategy.FISHER && p.normalizeFishers())) {
                Union u = Union.of(o, blockSize);
                long[] cursor = new long[n];
                Scan.Sums chunk = null;
                int chunkIndex = -1;
                for (int g = 0; g < u.groups(); g++) {
                    int from = u.groupStart()[g];
                    int ci = PassScheduler.chunkOf(u.pos()[from] / blockSize * blockSize, blockSize);
                    if (ci != chunkIndex) {
                        if (chunk != null) {
                            tensorSums.add(chunk);
                        }
                        chunk = new Scan.Sums(n);
                        chunkIndex = ci;
                    }
                    gather(b, o, u, from, u.groupStart()[g + 1] - from, cursor, true);
                    b.clearScan();
                    s.scanBlock(b, pairs, o.withFisher, false);
                    chunk.addBlock(b);
                }
                if (chunk != null) {
                    tensorSums.add(chunk);
                }
            } finally {
                plan.release(b);
            }
            plan.progress.progress(new ProgressListener.Progress("scan", done.incrementAndGet(), work.size(),
                    bytes.addAndGet(c.out.byteSize()), total));
        })).join();
        return s;
    }

    /**
     * For strategies whose change is a plain weighted sum (average over all inputs, task
     * arithmetic, Krum), each input's effective weight as {@code Kernels.weightedSum} uses it;
     * null for the others.
     */
    private static float[] sumWeights(TensorCtx c) {
        MergeParameters p = c.rule.params();
        float scale;
        switch (c.rule.strategy()) {
            case AVERAGE -> {
                if (p.averageOver() == MergeParameters.Over.TOUCHED) {
                    return null;
                }
                scale = 1f / c.wSum;
            }
            case KRUM, MULTI_KRUM -> scale = 1f / c.wSum;
            case TASK_ARITHMETIC -> scale = (float) p.lambda();
            default -> {
                return null;
            }
        }
        float[] w = new float[c.w.length];
        for (int i = 0; i < w.length; i++) {
            w[i] = c.w[i] * scale;
        }
        return w;
    }

    /**
     * The weighted sum of the changes at union positions [from, from + len) into {@code b.out},
     * adding only the entries inputs have: an untouched input adds {@code w * 0 = +-0}, which
     * cannot change a sum that starts at +0 (it never becomes -0), so skipping it gives the same
     * bits as {@link #gather} plus {@code Kernels.weightedSum}, at O(entries) instead of O(n x len).
     */
    private void gatherSum(Block b, OpenedTensor o, Union u, int from, int len, long[] cursor, float[] weight) {
        TensorCtx c = o.c;
        long last = loadUnionBase(b, o, u, from, len);
        long[] pos = b.pos;
        float[] bs = b.base;
        float[] out = b.out;
        Arrays.fill(out, 0, len, 0f);
        for (int i = 0; i < n; i++) {
            SparseTensorDelta sd = o.sparse[i];
            if (sd == null) {
                continue;
            }
            boolean add = sd.semantics() == SparseTensorDelta.Semantics.ADD;
            DType vt = sd.valueType();
            MemorySegment values = sd.values();
            float w = weight[i];
            float s = c.scale != null ? c.scale[i] : 1f;
            long k = cursor[i];
            int j = 0;
            for (; k < sd.count(); k++) {
                long p = sd.position(k);
                if (p > last) {
                    break;
                }
                while (pos[j] < p) {
                    j++;
                }
                if (w == 0) {
                    continue; // weightedSum skips the input; the cursor still advances
                }
                float d = add ? values.getAtIndex(SparseTensorDelta.ADD_VALUE, k) : vt.getFloat(values, k) - bs[j];
                if (s != 1f) {
                    d *= s;
                }
                out[j] += w * d;
            }
            cursor[i] = k;
        }
    }

    /** Merges one tensor at its union positions; keeps the entries whose bits differ from the base's. */
    private SparseTensorDelta mergeTensor(OpenedTensor o, Union u, Arena arena) {
        TensorCtx c = o.c;
        DType dt = c.out.dtype();
        int es = dt.byteSize();
        long size = u.size();
        MemorySegment positions = arena.allocate(Math.max(1, size * Long.BYTES), 8);
        MemorySegment values = arena.allocate(Math.max(1, size * es), 8);
        long count = 0;
        float eta = (float) c.rule.params().stepSize();
        float[] sum = sumWeights(c);
        Block b = plan.borrow();
        try {
            long[] cursor = new long[n];
            MemorySegment stage = b.stage(BlockOutput.ToFile.STAGE_BYTES);
            for (int g = 0; g < u.groups(); g++) {
                int from = u.groupStart()[g];
                int len = u.groupStart()[g + 1] - from;
                if (sum != null) {
                    gatherSum(b, o, u, from, len, cursor, sum);
                } else {
                    gather(b, o, u, from, len, cursor, false);
                    Kernels.merge(b, c);
                }
                float[] r = b.out;
                float[] bs = b.base;
                for (int j = 0; j < len; j++) {
                    r[j] = bs[j] + eta * r[j];
                }
                BlockIO.write(r, len, stage, dt, 0, b.s16, b.f64);
                for (int j = 0; j < len; j++) {
                    long p = b.pos[j];
                    if (MemorySegment.mismatch(stage, (long) j * es, (long) (j + 1) * es, o.base, p * es, (p + 1) * es) >= 0) {
                        positions.setAtIndex(SparseTensorDelta.POSITION, count, p);
                        MemorySegment.copy(stage, (long) j * es, values, count * es, es);
                        count++;
                    }
                }
            }
        } finally {
            b.clearStage();
            plan.release(b);
        }
        return new SparseTensorDelta(c.out, SparseTensorDelta.Semantics.SET, count,
                positions.asSlice(0, Math.max(1, count * Long.BYTES)), values.asSlice(0, Math.max(1, count * es)));
    }
}
