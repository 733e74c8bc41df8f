package dev.merit.merge;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.DType;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor's segments from every source, opened for one pass, and the loading of a contiguous
 * block of it into a {@link Block}'s float32 columns. Sparse inputs are scattered into their
 * columns; the sparse merge gathers union positions instead ({@link SparseMerge}).
 */
final class OpenedTensor implements AutoCloseable {

    final MergePlan plan;
    final TensorCtx c;
    final int n;
    MemorySegment base;
    DType baseType;
    final MemorySegment[] seg;
    final DType[] type;
    /** Input i is a full model whose change is {@code seg[i] - base}. */
    final boolean[] minusBase;
    /** No sparse input: every input has a segment (and a Fisher segment when withFisher). */
    final boolean dense;
    final SparseTensorDelta[] sparse;
    final MemorySegment[] sparseFisher;
    final MemorySegment[] fisher;
    final DType[] fisherType;
    MemorySegment baseFisherSeg;
    DType baseFisherType;
    final boolean withFisher;
    private boolean closed;

    OpenedTensor(MergePlan plan, TensorCtx c, boolean withFisher) {
        this.plan = plan;
        this.c = c;
        this.n = plan.n;
        this.withFisher = withFisher;
        seg = new MemorySegment[n];
        type = new DType[n];
        minusBase = new boolean[n];
        sparse = new SparseTensorDelta[n];
        sparseFisher = new MemorySegment[n];
        fisher = new MemorySegment[n];
        fisherType = new DType[n];
        String name = c.name();
        if (plan.base != null) {
            base = plan.base.data(name);
            baseType = c.ref.dtype();
        }
        for (int i = 0; i < n; i++) {
            MergeInput in = plan.inputs.get(i);
            if (in.kind() == MergeInput.Kind.SPARSE) {
                SparseTensorDelta sd = in.sparse().delta(name).orElse(null);
                if (sd != null) {
                    checkSparse(in, sd);
                    sparse[i] = sd;
                    if (withFisher) {
                        MemorySegment f = in.sparse().fisher(name).orElseThrow(() ->
                                MergePlan.bad(plan.who(in) + ": tensor '" + name + "' has no Fisher"));
                        if (f.byteSize() < sd.count() * 4) {
                            throw MergePlan.bad(plan.who(in) + ": tensor '" + name + "': Fisher holds " + f.byteSize() / 4
                                    + " values for " + sd.count() + " changed entries");
                        }
                        sparseFisher[i] = f;
                    }
                }
            } else {
                seg[i] = in.source().data(name);
                type[i] = in.source().info(name).orElseThrow().dtype();
                minusBase[i] = base != null && in.kind() == MergeInput.Kind.MODEL;
                if (withFisher) {
                    fisher[i] = in.fisher().data(name);
                    fisherType[i] = in.fisher().info(name).orElseThrow().dtype();
                }
            }
        }
        if (withFisher && plan.baseFisher != null) {
            baseFisherSeg = plan.baseFisher.data(name);
            baseFisherType = plan.baseFisher.info(name).orElseThrow().dtype();
        }
        this.dense = Arrays.stream(seg).allMatch(Objects::nonNull);
    }

    private void checkSparse(MergeInput in, SparseTensorDelta sd) {
        if (!Arrays.equals(sd.info().shape(), c.ref.shape())) {
            throw MergePlan.bad(plan.who(in) + ": tensor '" + c.name() + "' has shape " + sd.info().shapeString()
                    + " but " + plan.refName() + " has " + c.ref.shapeString());
        }
        if (sd.semantics() == SparseTensorDelta.Semantics.SET && sd.info().dtype() != c.ref.dtype()) {
            throw MergePlan.bad(plan.who(in) + ": tensor '" + c.name() + "' sets " + sd.info().dtype() + " values but "
                    + plan.refName() + " has " + c.ref.dtype());
        }
        if (sd.count() > 0 && (sd.position(0) < 0 || sd.position(sd.count() - 1) >= c.numel())) {
            throw MergePlan.bad(plan.who(in) + ": tensor '" + c.name() + "': positions out of range [0, " + c.numel() + ")");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (int i = 0; i < n; i++) {
            MergeInput in = plan.inputs.get(i);
            if (in.kind() == MergeInput.Kind.SPARSE) {
                in.sparse().release(c.name());
            }
        }
    }

    /**
     * Loads block [start, start + len) of every input. {@code raw} leaves changes unclipped and
     * Fisher unnormalized (the scan pass); otherwise clipping, Fisher normalization and floor apply.
     */
    void load(Block b, long start, int len, boolean raw) {
        b.start = start;
        b.len = len;
        b.gathered = false;
        boolean hasBase = base != null;
        if (hasBase) {
            BlockIO.read(base, baseType, start, len, b.base, b.s16, b.f64);
        } else {
            Arrays.fill(b.base, 0, len, 0f);
        }
        MergeParameters p = c.rule.params();
        for (int i = 0; i < n; i++) {
            float[] d = b.d[i];
            float[] m = b.m[i];
            float[] f = b.f[i];
            SparseTensorDelta sd = sparse[i];
            if (seg[i] != null) {
                BlockIO.read(seg[i], type[i], start, len, d, b.s16, b.f64);
                if (hasBase && plan.inputs.get(i).kind() == MergeInput.Kind.MODEL) {
                    float[] bs = b.base;
                    for (int j = 0; j < len; j++) {
                        d[j] -= bs[j];
                    }
                }
                Arrays.fill(m, 0, len, 1f);
                if (withFisher) {
                    BlockIO.read(fisher[i], fisherType[i], start, len, f, b.s16, b.f64);
                }
            } else {
                Arrays.fill(d, 0, len, 0f);
                Arrays.fill(m, 0, len, 0f);
                if (withFisher) {
                    Arrays.fill(f, 0, len, 0f); // untouched entries are masked, but must not be stale NaNs
                }
                if (sd != null) {
                    scatter(b, sd, sparseFisher[i], d, m, f, start, len);
                }
            }
            if (!raw) {
                adjust(b, i, len);
            }
        }
        if (withFisher && p.favorBase()) {
            float[] bf = b.baseFisher;
            if (baseFisherSeg != null) {
                BlockIO.read(baseFisherSeg, baseFisherType, start, len, bf, b.s16, b.f64);
            } else {
                Arrays.fill(bf, 0, len, (float) p.baseFisherValue());
            }
            if (!raw) {
                adjustBaseFisher(b, len);
            }
        }
    }

    /** Loads only the base's block [start, start + len) (zeros without a base). */
    void loadBase(Block b, long start, int len) {
        b.start = start;
        b.len = len;
        b.gathered = false;
        if (base != null) {
            BlockIO.read(base, baseType, start, len, b.base, b.s16, b.f64);
        } else {
            Arrays.fill(b.base, 0, len, 0f);
        }
    }

    /** Clips input i's change and normalizes and floors its Fisher (shared by {@link #load} and the sparse gather). */
    void adjust(Block b, int i, int len) {
        float[] d = b.d[i];
        if (c.scale != null && c.scale[i] != 1f) {
            float s = c.scale[i];
            for (int j = 0; j < len; j++) {
                d[j] *= s;
            }
        }
        if (withFisher) {
            float[] f = b.f[i];
            float inv = c.fisherInv[i];
            float floor = (float) c.rule.params().fisherFloor();
            for (int j = 0; j < len; j++) {
                f[j] = Math.max(f[j] * inv, floor);
            }
        }
    }

    void adjustBaseFisher(Block b, int len) {
        float[] bf = b.baseFisher;
        float inv = baseFisherSeg != null ? c.fisherInv[n] : 1f;
        float floor = (float) c.rule.params().fisherFloor();
        for (int j = 0; j < len; j++) {
            bf[j] = Math.max(bf[j] * inv, floor);
        }
    }

    private static void scatter(Block b, SparseTensorDelta sd, MemorySegment fisher, float[] d, float[] m, float[] f,
                                long start, int len) {
        long count = sd.count();
        long lo = 0;
        long hi = count;
        while (lo < hi) { // first entry at or after start
            long mid = (lo + hi) >>> 1;
            if (sd.position(mid) < start) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        long end = start + len;
        boolean add = sd.semantics() == SparseTensorDelta.Semantics.ADD;
        DType vt = sd.valueType();
        MemorySegment values = sd.values();
        for (long k = lo; k < count; k++) {
            long pos = sd.position(k);
            if (pos >= end) {
                break;
            }
            int j = (int) (pos - start);
            d[j] = add ? values.getAtIndex(SparseTensorDelta.ADD_VALUE, k) : vt.getFloat(values, k) - b.base[j];
            m[j] = 1f;
            if (fisher != null) {
                f[j] = fisher.getAtIndex(BlockIO.F32, k);
            }
        }
    }
}
