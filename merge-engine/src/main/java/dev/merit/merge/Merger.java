package dev.merit.merge;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

/**
 * Merges a base and N inputs block by block on a fixed number of threads, which claim runs of
 * adjacent blocks ({@value #CHUNK_ELEMENTS} elements) from one queue spanning every tensor.
 * Inputs are read straight from their memory segments (usually memory-mapped files) into small
 * per-thread float32 blocks; the output goes into a sink's segments, or, for a file, through a
 * per-thread native staging buffer and positional writes. The Java heap and anonymous memory stay
 * a few blocks per thread whatever the model size. When every input is dense, average, Krum, task
 * arithmetic and Fisher merges fold each input into the result as it is read ({@link DenseKernels}).
 *
 * <pre>{@code
 * MergeResult r = Merger.builder()
 *         .base(base)
 *         .input(MergeInput.model("a", a).withFisher(fa))
 *         .input(MergeInput.model("b", b).withWeight(0.5).withFisher(fb))
 *         .strategy(Strategy.FISHER)
 *         .parameters(MergeParameters.defaults().with(Map.of("fisher_floor", 1e-6)))
 *         .build()
 *         .mergeTo(Path.of("merged.safetensors"));
 * }</pre>
 *
 * <p>Everything that can be checked before reading tensor data (shapes, dtypes, missing tensors
 * or Fisher, strategy requirements) is checked by {@link Builder#build()}, which throws
 * {@link InvalidInputException} naming the input and tensor. Floating-point tensors are merged;
 * other tensors (integer ids, masks) are copied from the base, or from the first model without one.
 */
public final class Merger {

    /** Elements per block: 16 Ki floats per input keep a thread's working set in its L2 cache. */
    public static final int DEFAULT_BLOCK_SIZE = 16 * 1024;

    private final TensorSource base;
    private final TensorSource baseFisher;
    private final List<MergeInput> inputs;
    private final Rule mainRule;
    private final List<Rule> rules;
    private final boolean statistics;
    private final int threads;
    private final int blockSize;
    private final ProgressListener progress;
    private final Map<String, String> metadata;
    private final List<TensorCtx> tensors;
    private final int n;
    private final ConcurrentLinkedDeque<Block> blocks = new ConcurrentLinkedDeque<>();

    private Merger(Builder b) {
        this.base = b.base;
        this.baseFisher = b.baseFisher;
        this.inputs = List.copyOf(b.inputs);
        this.mainRule = Rule.of("*", b.strategy, b.parameters);
        this.rules = List.copyOf(b.rules);
        this.statistics = b.statistics;
        this.threads = b.threads;
        this.blockSize = b.blockSize;
        this.progress = b.progress;
        this.n = inputs.size();
        this.tensors = validate(b.outputDType);
        Map<String, String> md = new LinkedHashMap<>(reference().metadata());
        md.put("merit.merge.strategy", mainRule.strategy().id());
        md.putAll(b.metadata);
        this.metadata = Map.copyOf(md);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The output's tensors, in order, with their output dtypes. */
    public List<TensorInfo> layout() {
        return tensors.stream().map(c -> c.out).toList();
    }

    /** Metadata written to a safetensors output: the base's plus the merge's own keys. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Merges into a new safetensors file at {@code output}: written with positional writes under a
     * temporary name, flushed to the device, then moved into place.
     */
    public MergeResult mergeTo(Path output) {
        try (SafetensorsWriter w = SafetensorsWriter.create(output, layout(), metadata, SafetensorsWriter.Mode.POSITIONAL)) {
            MergeResult r = run(new BlockOutput.ToFile(w));
            w.finish();
            return r;
        }
    }

    /** Merges into {@code sink}. */
    public MergeResult mergeTo(MergeSink sink) {
        Objects.requireNonNull(sink, "sink");
        return run(new BlockOutput.ToSink(sink, tensors.size()));
    }

    private MergeResult run(BlockOutput output) {
        long t0 = System.nanoTime();
        ForkJoinPool pool = new ForkJoinPool(threads);
        try {
            Scan scan = needsScan() ? scan(pool) : null;
            Map<String, List<String>> selected = derive(scan);
            long bytes = merge(pool, output);
            long elements = tensors.stream().mapToLong(TensorCtx::numel).sum();
            Optional<MergeStatistics> stats = statistics ? Optional.of(scan.statistics()) : Optional.empty();
            return new MergeResult(tensors.size(), elements, bytes, System.nanoTime() - t0, selected, stats);
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Whether {@link #mergeSparse} can do this merge: every input is sparse, floating-point
     * tensors keep their dtype, and no Fisher rule normalizes a base Fisher file (its mean is over
     * the whole model). Every strategy qualifies, Krum and model-scope clipping included: the
     * norms and distances they need are sums over the inputs' supports.
     */
    public boolean supportsSparse() {
        return sparseObstacle() == null;
    }

    private String sparseObstacle() {
        for (MergeInput in : inputs) {
            if (in.kind() != MergeInput.Kind.SPARSE) {
                return who(in) + " is a " + in.kind().name().toLowerCase(java.util.Locale.ROOT) + ", not a sparse delta";
            }
        }
        for (TensorCtx c : tensors) {
            if (c.out.dtype() != c.ref.dtype()) {
                return "tensor '" + c.name() + "' changes dtype (" + c.ref.dtype() + " to " + c.out.dtype() + ")";
            }
        }
        for (Rule r : allRules()) {
            MergeParameters p = r.params();
            if (r.strategy() == Strategy.FISHER && p.normalizeFishers() && p.favorBase() && baseFisher != null) {
                return "normalize_fishers with a base Fisher file needs the base Fisher's mean over the whole model";
            }
        }
        return null;
    }

    /**
     * Merges only where an input changed something: per tensor, the merged values at the union of
     * the inputs' positions, as a SET delta (values in the tensor's dtype) holding the positions
     * whose bits differ from the base's. Everywhere else the merged change is 0, so the result is
     * the base. Values are bit-identical to {@link #mergeTo(Path)} at those positions (same float32
     * operations in the same order); elsewhere the dense path only differs by rewriting the base
     * through float32 (a -0.0 becomes +0.0, F64 entries are rounded), which this mode leaves alone.
     * Cost follows the inputs' entries (a sort of their positions per tensor), not the model's size.
     *
     * @param arena owns the returned deltas' memory
     * @throws IllegalStateException if {@link #supportsSparse()} is false
     */
    public SparseMergeResult mergeSparse(Arena arena) {
        Objects.requireNonNull(arena, "arena");
        String obstacle = sparseObstacle();
        if (obstacle != null) {
            throw new IllegalStateException("no sparse merge: " + obstacle);
        }
        long t0 = System.nanoTime();
        ForkJoinPool pool = new ForkJoinPool(threads);
        // Workers write into a shared arena; the caller's may be confined to its thread.
        try (Arena scratch = Arena.ofShared()) {
            Scan scan = needsScan() ? sparseScan(pool) : null;
            Map<String, List<String>> selected = derive(scan);
            SparseTensorDelta[] out = new SparseTensorDelta[tensors.size()];
            long[] positions = new long[tensors.size()];
            AtomicInteger done = new AtomicInteger();
            AtomicLong bytes = new AtomicLong();
            List<TensorCtx> work = tensors.stream().filter(this::touchedSparse).toList();
            long total = work.stream().mapToLong(c -> c.out.byteSize()).sum();
            pool.submit(() -> work.parallelStream().forEach(c -> {
                try (Opened o = new Opened(c, c.rule.strategy() == Strategy.FISHER)) {
                    Union u = Union.of(o, blockSize);
                    positions[c.index] = u.size();
                    if (c.rule.strategy() == Strategy.TIES) {
                        c.thr = sparseThresholds(o, u);
                    }
                    out[c.index] = sparseMergeTensor(o, u, scratch);
                }
                progress.progress(new ProgressListener.Progress("merge", done.incrementAndGet(), work.size(),
                        bytes.addAndGet(c.out.byteSize()), total));
            })).join();
            Map<String, SparseTensorDelta> changes = new LinkedHashMap<>();
            long changed = 0;
            for (TensorCtx c : tensors) {
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
            Optional<MergeStatistics> stats = statistics ? Optional.of(scan.statistics()) : Optional.empty();
            return new SparseMergeResult(changes, work.size(), Arrays.stream(positions).sum(), changed,
                    System.nanoTime() - t0, selected, stats);
        } finally {
            pool.shutdownNow();
        }
    }

    // ---------------------------------------------------------------- validation

    private TensorSource reference() {
        return base != null ? base : inputs.getFirst().source();
    }

    private String refName() {
        return base != null ? "the base" : "the first model";
    }

    private Rule ruleFor(String tensor) {
        for (Rule r : rules) {
            if (r.matches(tensor)) {
                return r;
            }
        }
        return mainRule;
    }

    private List<Rule> allRules() {
        List<Rule> all = new ArrayList<>(rules);
        all.add(mainRule);
        return all;
    }

    private static InvalidInputException bad(String msg) {
        return new InvalidInputException(msg);
    }

    private String who(MergeInput in) {
        String d = in.kind() == MergeInput.Kind.SPARSE ? in.sparse().describe() : in.source().describe();
        return "input '" + in.label() + "'" + (d.equals(in.label()) ? "" : " (" + d + ")");
    }

    private List<TensorCtx> validate(DType outputDType) {
        if (inputs.isEmpty()) {
            throw bad("nothing to merge: no inputs (field 'models')");
        }
        if (outputDType != null && !outputDType.isFloatingPoint()) {
            throw bad("output dtype " + outputDType + " is not a floating-point type (field 'dtype')");
        }
        if (base == null) {
            for (MergeInput in : inputs) {
                if (in.kind() != MergeInput.Kind.MODEL) {
                    throw bad(who(in) + " is a " + in.kind().name().toLowerCase(java.util.Locale.ROOT)
                            + " delta and needs a base (field 'base')");
                }
            }
        }
        List<Rule> used = new ArrayList<>();
        List<TensorCtx> ctxs = new ArrayList<>();
        Map<String, TensorInfo> refs = new LinkedHashMap<>();
        for (TensorInfo t : reference().tensors()) {
            Rule r = ruleFor(t.name());
            if (!used.contains(r)) {
                used.add(r);
            }
            DType outType = outputDType != null && t.dtype().isFloatingPoint() ? outputDType : t.dtype();
            ctxs.add(new TensorCtx(ctxs.size(), t, new TensorInfo(t.name(), outType, t.shape()), r));
            refs.put(t.name(), t);
        }
        double wSum = inputs.stream().mapToDouble(MergeInput::weight).sum();
        for (Rule r : used) {
            Strategy s = r.strategy();
            String where = r == mainRule ? "strategy '" + s.id() + "'" : "strategy '" + s.id() + "' (rule '" + r.pattern() + "')";
            if (s.needsBase() && base == null) {
                throw bad(where + " needs a base (field 'base')");
            }
            if (s.needsFisher()) {
                for (MergeInput in : inputs) {
                    if (!in.hasFisher()) {
                        throw bad(who(in) + ": " + where + " needs a Fisher for every model (field 'fisher')");
                    }
                }
                if (r.params().favorBase()) {
                    if (base == null) {
                        throw bad(where + ": favor_base needs a base (field 'base')");
                    }
                    if (baseFisher == null && Double.isNaN(r.params().baseFisherValue())) {
                        throw bad(where + ": favor_base needs the base's Fisher (field 'base_fisher' or parameter 'base_fisher_value')");
                    }
                }
            }
            if ((s == Strategy.AVERAGE || s == Strategy.FISHER || s == Strategy.MULTI_KRUM) && !(wSum > 0)) {
                throw bad(where + ": the models' weights sum to " + wSum + ", must be > 0 (field 'weight')");
            }
            if (s.isKrum()) {
                int f = byzantine(r.params());
                if (n < 2 * f + 3) {
                    throw bad(where + " with byzantine = " + f + " needs at least " + (2 * f + 3) + " models, got " + n);
                }
                if (s == Strategy.MULTI_KRUM && r.params().select() > n) {
                    throw bad(where + ": select = " + r.params().select() + " exceeds the " + n + " models");
                }
            }
        }
        for (MergeInput in : inputs) {
            if (in.kind() == MergeInput.Kind.SPARSE) {
                for (String name : in.sparse().tensorNames()) {
                    if (!refs.containsKey(name)) {
                        throw bad(who(in) + ": tensor '" + name + "' is not in " + refName());
                    }
                }
            } else {
                checkSameTensors(who(in), in.source(), refs, in.kind() == MergeInput.Kind.MODEL);
            }
            if (in.fisher() != null) {
                checkFisher(who(in) + ": Fisher " + in.fisher().describe(), in.fisher(), refs);
            }
        }
        if (baseFisher != null) {
            checkFisher("base Fisher " + baseFisher.describe(), baseFisher, refs);
        }
        return ctxs;
    }

    private int byzantine(MergeParameters p) {
        return p.byzantine() >= 0 ? p.byzantine() : Math.max(0, (n - 3) / 2);
    }

    private void checkSameTensors(String who, TensorSource src, Map<String, TensorInfo> refs, boolean sameDType) {
        for (TensorInfo ref : refs.values()) {
            TensorInfo t = src.info(ref.name()).orElseThrow(() ->
                    bad(who + ": no tensor '" + ref.name() + "' (" + refName() + " has it)"));
            if (!Arrays.equals(t.shape(), ref.shape())) {
                throw bad(who + ": tensor '" + ref.name() + "' has shape " + t.shapeString() + " but "
                        + refName() + " has " + ref.shapeString());
            }
            boolean ok = sameDType ? t.dtype() == ref.dtype() : t.dtype().isFloatingPoint() || !ref.dtype().isFloatingPoint();
            if (!ok) {
                throw bad(who + ": tensor '" + ref.name() + "' is " + t.dtype() + " but " + refName() + " has " + ref.dtype());
            }
        }
        for (TensorInfo t : src.tensors()) {
            if (!refs.containsKey(t.name())) {
                throw bad(who + ": tensor '" + t.name() + "' is not in " + refName());
            }
        }
    }

    private void checkFisher(String who, TensorSource fisher, Map<String, TensorInfo> refs) {
        for (TensorInfo ref : refs.values()) {
            if (!ref.dtype().isFloatingPoint()) {
                continue;
            }
            TensorInfo t = fisher.info(ref.name()).orElseThrow(() -> bad(who + ": no tensor '" + ref.name() + "'"));
            if (!Arrays.equals(t.shape(), ref.shape())) {
                throw bad(who + ": tensor '" + ref.name() + "' has shape " + t.shapeString()
                        + " but the model has " + ref.shapeString());
            }
            if (!t.dtype().isFloatingPoint()) {
                throw bad(who + ": tensor '" + ref.name() + "' is " + t.dtype() + ", must be a floating-point type");
            }
        }
    }

    // ---------------------------------------------------------------- opening tensors

    /** One tensor's segments from every source, for one pass. */
    final class Opened implements AutoCloseable {
        final TensorCtx c;
        MemorySegment base;
        DType baseType;
        final MemorySegment[] seg = new MemorySegment[n];
        final DType[] type = new DType[n];
        /** Input i is a full model whose change is {@code seg[i] - base}. */
        final boolean[] minusBase = new boolean[n];
        /** No sparse input: every input has a segment (and a Fisher segment when withFisher). */
        final boolean dense;
        private boolean closed;
        final SparseTensorDelta[] sparse = new SparseTensorDelta[n];
        final MemorySegment[] sparseFisher = new MemorySegment[n];
        final MemorySegment[] fisher = new MemorySegment[n];
        final DType[] fisherType = new DType[n];
        MemorySegment baseFisherSeg;
        DType baseFisherType;
        final boolean withFisher;

        Opened(TensorCtx c, boolean withFisher) {
            this.c = c;
            this.withFisher = withFisher;
            String name = c.name();
            if (Merger.this.base != null) {
                base = Merger.this.base.data(name);
                baseType = c.ref.dtype();
            }
            for (int i = 0; i < n; i++) {
                MergeInput in = inputs.get(i);
                if (in.kind() == MergeInput.Kind.SPARSE) {
                    SparseTensorDelta sd = in.sparse().delta(name).orElse(null);
                    if (sd != null) {
                        checkSparse(in, sd);
                        sparse[i] = sd;
                        if (withFisher) {
                            MemorySegment f = in.sparse().fisher(name).orElseThrow(() ->
                                    bad(who(in) + ": tensor '" + name + "' has no Fisher"));
                            if (f.byteSize() < sd.count() * 4) {
                                throw bad(who(in) + ": tensor '" + name + "': Fisher holds " + f.byteSize() / 4
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
            if (withFisher && baseFisher != null) {
                baseFisherSeg = baseFisher.data(name);
                baseFisherType = baseFisher.info(name).orElseThrow().dtype();
            }
            this.dense = Arrays.stream(seg).allMatch(Objects::nonNull);
        }

        private void checkSparse(MergeInput in, SparseTensorDelta sd) {
            if (!Arrays.equals(sd.info().shape(), c.ref.shape())) {
                throw bad(who(in) + ": tensor '" + c.name() + "' has shape " + sd.info().shapeString()
                        + " but " + refName() + " has " + c.ref.shapeString());
            }
            if (sd.semantics() == SparseTensorDelta.Semantics.SET && sd.info().dtype() != c.ref.dtype()) {
                throw bad(who(in) + ": tensor '" + c.name() + "' sets " + sd.info().dtype() + " values but "
                        + refName() + " has " + c.ref.dtype());
            }
            if (sd.count() > 0 && (sd.position(0) < 0 || sd.position(sd.count() - 1) >= c.numel())) {
                throw bad(who(in) + ": tensor '" + c.name() + "': positions out of range [0, " + c.numel() + ")");
            }
        }

        @Override
        public void close() {
            if (closed) {
                return;
            }
            closed = true;
            for (int i = 0; i < n; i++) {
                MergeInput in = inputs.get(i);
                if (in.kind() == MergeInput.Kind.SPARSE) {
                    in.sparse().release(c.name());
                }
            }
        }
    }

    /**
     * Loads block [start, start + len) of every input. {@code raw} leaves changes unclipped and
     * Fisher unnormalized (the scan pass); otherwise clipping, Fisher normalization and floor apply.
     */
    private void load(Block b, Opened o, long start, int len, boolean raw) {
        TensorCtx c = o.c;
        b.start = start;
        b.len = len;
        b.gathered = false;
        boolean hasBase = o.base != null;
        if (hasBase) {
            BlockIO.read(o.base, o.baseType, start, len, b.base, b.s16, b.f64);
        } else {
            Arrays.fill(b.base, 0, len, 0f);
        }
        MergeParameters p = c.rule.params();
        for (int i = 0; i < n; i++) {
            float[] d = b.d[i];
            float[] m = b.m[i];
            float[] f = b.f[i];
            SparseTensorDelta sd = o.sparse[i];
            if (o.seg[i] != null) {
                BlockIO.read(o.seg[i], o.type[i], start, len, d, b.s16, b.f64);
                if (hasBase && inputs.get(i).kind() == MergeInput.Kind.MODEL) {
                    float[] bs = b.base;
                    for (int j = 0; j < len; j++) {
                        d[j] -= bs[j];
                    }
                }
                Arrays.fill(m, 0, len, 1f);
                if (o.withFisher) {
                    BlockIO.read(o.fisher[i], o.fisherType[i], start, len, f, b.s16, b.f64);
                }
            } else {
                Arrays.fill(d, 0, len, 0f);
                Arrays.fill(m, 0, len, 0f);
                if (o.withFisher) {
                    Arrays.fill(f, 0, len, 0f); // untouched entries are masked, but must not be stale NaNs
                }
                if (sd != null) {
                    scatter(b, sd, o.sparseFisher[i], d, m, f, start, len);
                }
            }
            if (!raw) {
                adjust(b, o, i, len);
            }
        }
        if (o.withFisher && p.favorBase()) {
            float[] bf = b.baseFisher;
            if (o.baseFisherSeg != null) {
                BlockIO.read(o.baseFisherSeg, o.baseFisherType, start, len, bf, b.s16, b.f64);
            } else {
                Arrays.fill(bf, 0, len, (float) p.baseFisherValue());
            }
            if (!raw) {
                adjustBaseFisher(b, o, len);
            }
        }
    }

    /** Clips input i's change and normalizes and floors its Fisher (shared by {@link #load} and {@link #gather}). */
    private void adjust(Block b, Opened o, int i, int len) {
        TensorCtx c = o.c;
        float[] d = b.d[i];
        if (c.scale != null && c.scale[i] != 1f) {
            float s = c.scale[i];
            for (int j = 0; j < len; j++) {
                d[j] *= s;
            }
        }
        if (o.withFisher) {
            float[] f = b.f[i];
            float inv = c.fisherInv[i];
            float floor = (float) c.rule.params().fisherFloor();
            for (int j = 0; j < len; j++) {
                f[j] = Math.max(f[j] * inv, floor);
            }
        }
    }

    private void adjustBaseFisher(Block b, Opened o, int len) {
        float[] bf = b.baseFisher;
        float inv = o.baseFisherSeg != null ? o.c.fisherInv[n] : 1f;
        float floor = (float) o.c.rule.params().fisherFloor();
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

    // ---------------------------------------------------------------- sparse mode

    /** A merged tensor some input changed. */
    private boolean touchedSparse(TensorCtx c) {
        return c.merged && inputs.stream().anyMatch(in -> in.sparse().tensorNames().contains(c.name()));
    }

    /**
     * The sorted union of the inputs' positions in one tensor, cut into groups that each lie in
     * one block [k * blockSize, (k + 1) * blockSize) of the tensor: a group fits a {@link Block},
     * and summing group by group adds the same terms in the same order as the dense pass.
     */
    private record Union(long[] pos, int[] groupStart) {

        static Union of(Opened o, int blockSize) {
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
    private static long loadUnionBase(Block b, Opened o, Union u, int from, int len) {
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
     * {@link #load} would load them in a contiguous block: untouched inputs give 0 with mask 0.
     * {@code cursor[i]} is input i's first entry not yet consumed; groups go in order.
     */
    private void gather(Block b, Opened o, Union u, int from, int len, long[] cursor, boolean raw) {
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
                adjust(b, o, i, len);
            }
        }
        MergeParameters p = o.c.rule.params();
        if (o.withFisher && p.favorBase()) {
            float[] bf = b.baseFisher;
            for (int j = 0; j < len; j++) {
                bf[j] = o.baseFisherSeg != null ? o.baseFisherType.getFloat(o.baseFisherSeg, pos[j]) : (float) p.baseFisherValue();
            }
            if (!raw) {
                adjustBaseFisher(b, o, len);
            }
        }
    }

    /**
     * The scan pass over the inputs' supports: tensors in parallel, each tensor's groups in
     * order, so its sums add the same non-zero terms in the same order as a one-thread dense scan.
     */
    private Scan sparseScan(ForkJoinPool pool) {
        Scan s = new Scan();
        boolean pairs = statistics || allRules().stream().anyMatch(r -> r.strategy().isKrum());
        for (TensorCtx c : tensors) {
            s.init(c.index);
        }
        List<TensorCtx> work = tensors.stream().filter(this::touchedSparse).toList();
        AtomicInteger done = new AtomicInteger();
        AtomicLong bytes = new AtomicLong();
        long total = work.stream().mapToLong(c -> c.out.byteSize()).sum();
        pool.submit(() -> work.parallelStream().forEach(c -> {
            int t = c.index;
            MergeParameters p = c.rule.params();
            Block b = borrow();
            try (Opened o = new Opened(c, c.rule.strategy() == Strategy.FISHER && p.normalizeFishers())) {
                Union u = Union.of(o, blockSize);
                long[] cursor = new long[n];
                for (int g = 0; g < u.groups(); g++) {
                    int from = u.groupStart()[g];
                    gather(b, o, u, from, u.groupStart()[g + 1] - from, cursor, true);
                    b.clearScan();
                    scanBlock(b, pairs, o.withFisher, false);
                    add(s.sumsq[t], b.sumsq);
                    add(s.dot[t], b.dot);
                    add(s.support[t], b.support);
                    add(s.overlap[t], b.overlap);
                    add(s.agree[t], b.agree);
                    add(s.fisherSum[t], b.fisherSum);
                    add(s.fisherCount[t], b.fisherCount);
                }
            } finally {
                blocks.push(b);
            }
            progress.progress(new ProgressListener.Progress("scan", done.incrementAndGet(), work.size(),
                    bytes.addAndGet(c.out.byteSize()), total));
        })).join();
        return s;
    }

    /** TIES thresholds from the supports: the exact k-th largest non-zero |d| per input, as the dense pass finds it. */
    private float[] sparseThresholds(Opened o, Union u) {
        TensorCtx c = o.c;
        long k = Math.round(c.rule.params().density() * c.numel());
        float[][] mag = new float[n][];
        int[] nz = new int[n];
        for (int i = 0; i < n; i++) {
            mag[i] = new float[o.sparse[i] == null ? 0 : (int) o.sparse[i].count()];
        }
        Block b = borrow();
        try {
            long[] cursor = new long[n];
            for (int g = 0; g < u.groups(); g++) {
                int from = u.groupStart()[g];
                int len = u.groupStart()[g + 1] - from;
                gather(b, o, u, from, len, cursor, false);
                for (int i = 0; i < n; i++) {
                    float[] d = b.d[i];
                    float[] m = b.m[i];
                    for (int j = 0; j < len; j++) {
                        if (m[j] != 0 && d[j] != 0) {
                            mag[i][nz[i]++] = Math.abs(d[j]);
                        }
                    }
                }
            }
        } finally {
            blocks.push(b);
        }
        float[] thr = new float[n];
        for (int i = 0; i < n; i++) {
            Arrays.sort(mag[i], 0, nz[i]);
            thr[i] = k == 0 ? Float.POSITIVE_INFINITY : k >= nz[i] ? Float.MIN_VALUE : mag[i][(int) (nz[i] - k)];
        }
        return thr;
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
    private void gatherSum(Block b, Opened o, Union u, int from, int len, long[] cursor, float[] weight) {
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
    private SparseTensorDelta sparseMergeTensor(Opened o, Union u, Arena arena) {
        TensorCtx c = o.c;
        DType dt = c.out.dtype();
        int es = dt.byteSize();
        long size = u.size();
        MemorySegment positions = arena.allocate(Math.max(1, size * Long.BYTES), 8);
        MemorySegment values = arena.allocate(Math.max(1, size * es), 8);
        long count = 0;
        float eta = (float) c.rule.params().stepSize();
        float[] sum = sumWeights(c);
        Block b = borrow();
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
            blocks.push(b);
        }
        return new SparseTensorDelta(c.out, SparseTensorDelta.Semantics.SET, count,
                positions.asSlice(0, Math.max(1, count * Long.BYTES)), values.asSlice(0, Math.max(1, count * es)));
    }

    // ---------------------------------------------------------------- scheduling

    private Block borrow() {
        Block b = blocks.poll();
        return b != null ? b : new Block(n, blockSize);
    }

    /** Elements per scheduling chunk: the run of adjacent blocks one worker does in order (1 MiB of F32). */
    static final int CHUNK_ELEMENTS = 256 * 1024;

    /** What a pass does with each tensor and block; called from worker threads. */
    private interface Pass {
        /** Called once per tensor, by the first worker to reach it; returns what its blocks read (may be null). */
        Opened open(TensorCtx c);

        void block(TensorCtx c, Opened o, Block b, long start, int len);

        /** After a worker's run of adjacent blocks, before {@code b} goes back to the pool. */
        default void chunkDone(Block b) {}

        /** After the last block of {@code c}; closes {@code o}. */
        void tensorDone(TensorCtx c, Opened o);
    }

    /** One tensor of a pass: its chunks, how many are left, and what its blocks read once opened. */
    private static final class Job {
        final TensorCtx c;
        final long blocks;
        final AtomicInteger left;
        private Opened opened;
        private boolean isOpen;

        Job(TensorCtx c, long blocks, int chunks) {
            this.c = c;
            this.blocks = blocks;
            this.left = new AtomicInteger(chunks);
        }

        synchronized Opened open(Pass pass) {
            if (!isOpen) {
                opened = pass.open(c);
                isOpen = true;
            }
            return opened;
        }

        /** After a failure: closes what an unfinished tensor opened. */
        synchronized void abandon() {
            if (isOpen && left.get() > 0 && opened != null) {
                opened.close();
            }
        }
    }

    /**
     * Runs {@code pass} over {@code list} on {@code threads} workers that claim chunks, in tensor
     * order, from one shared counter: both cores stay busy across tensor boundaries (no barrier per
     * tensor), small tensors share a worker, and each worker's consecutive blocks are adjacent in
     * the output. A failure stops the other workers and is rethrown as is.
     */
    private void runPass(ForkJoinPool pool, List<TensorCtx> list, Pass pass) {
        if (list.isEmpty()) {
            return;
        }
        int blocksPerChunk = Math.max(1, CHUNK_ELEMENTS / blockSize);
        Job[] jobs = new Job[list.size()];
        long[] first = new long[list.size() + 1];
        for (int t = 0; t < jobs.length; t++) {
            TensorCtx c = list.get(t);
            long nb = (c.numel() + blockSize - 1) / blockSize;
            int chunks = Math.toIntExact(Math.max(1, (nb + blocksPerChunk - 1) / blocksPerChunk));
            jobs[t] = new Job(c, nb, chunks);
            first[t + 1] = first[t] + chunks;
        }
        long total = first[jobs.length];
        AtomicLong next = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            Block b = borrow();
            try {
                while (failure.get() == null) {
                    long g = next.getAndIncrement();
                    if (g >= total) {
                        break;
                    }
                    int t = Arrays.binarySearch(first, g); // every job has a chunk, so first[] strictly increases
                    t = t >= 0 ? t : -t - 2;
                    Job job = jobs[t];
                    TensorCtx c = job.c;
                    Opened o = job.open(pass);
                    long from = (g - first[t]) * blocksPerChunk;
                    long to = Math.min(job.blocks, from + blocksPerChunk);
                    for (long k = from; k < to; k++) {
                        long start = k * blockSize;
                        pass.block(c, o, b, start, (int) Math.min(blockSize, c.numel() - start));
                    }
                    pass.chunkDone(b);
                    if (job.left.decrementAndGet() == 0) {
                        pass.tensorDone(c, o);
                    }
                }
            } catch (Throwable e) {
                failure.compareAndSet(null, e);
            } finally {
                b.clearStage(); // never carry one pass's unwritten output into another
                blocks.push(b);
            }
        };
        int workers = (int) Math.min(threads, total);
        List<ForkJoinTask<?>> tasks = new ArrayList<>();
        for (int w = 0; w < workers; w++) {
            tasks.add(pool.submit(worker));
        }
        tasks.forEach(ForkJoinTask::join);
        Throwable e = failure.get();
        if (e != null) {
            for (Job job : jobs) {
                try {
                    job.abandon();
                } catch (RuntimeException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            switch (e) {
                case RuntimeException r -> throw r;
                case Error r -> throw r;
                default -> throw new IllegalStateException(e);
            }
        }
    }

    // ---------------------------------------------------------------- scan pass

    private boolean needsScan() {
        if (statistics) {
            return true;
        }
        for (Rule r : allRules()) {
            MergeParameters p = r.params();
            if (r.strategy().isKrum() || p.clipNorm() > 0 || r.strategy() == Strategy.FISHER && p.normalizeFishers()) {
                return true;
            }
        }
        return false;
    }

    /** Per-tensor sums of one pass over the raw changes. */
    private final class Scan {
        final double[][] sumsq = new double[tensors.size()][];
        final double[][] dot = new double[tensors.size()][];
        final long[][] support = new long[tensors.size()][];
        final long[][] overlap = new long[tensors.size()][];
        final long[][] agree = new long[tensors.size()][];
        final double[][] fisherSum = new double[tensors.size()][];
        final double[][] fisherCount = new double[tensors.size()][];

        void init(int t) {
            sumsq[t] = new double[n];
            dot[t] = new double[n * n];
            support[t] = new long[n];
            overlap[t] = new long[n * n];
            agree[t] = new long[n * n];
            fisherSum[t] = new double[n + 1];
            fisherCount[t] = new double[n + 1];
        }

        MergeStatistics statistics() {
            List<MergeStatistics.TensorStatistics> per = new ArrayList<>();
            double[] tsq = new double[n];
            double[] tdot = new double[n * n];
            long[] tsup = new long[n];
            long[] tov = new long[n * n];
            long[] tag = new long[n * n];
            long numel = 0;
            for (TensorCtx c : tensors) {
                if (!c.merged) {
                    continue;
                }
                int t = c.index;
                per.add(stats(c.name(), c.numel(), sumsq[t], dot[t], support[t], overlap[t], agree[t]));
                numel += c.numel();
                for (int i = 0; i < n; i++) {
                    tsq[i] += sumsq[t][i];
                    tsup[i] += support[t][i];
                }
                for (int i = 0; i < n * n; i++) {
                    tdot[i] += dot[t][i];
                    tov[i] += overlap[t][i];
                    tag[i] += agree[t][i];
                }
            }
            return new MergeStatistics(inputs.stream().map(MergeInput::label).toList(),
                    stats("*", numel, tsq, tdot, tsup, tov, tag), per);
        }

        private MergeStatistics.TensorStatistics stats(String name, long numel, double[] sq, double[] dt, long[] sup,
                                                        long[] ov, long[] ag) {
            List<MergeStatistics.PairStatistics> pairs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                for (int j = i + 1; j < n; j++) {
                    long o = ov[i * n + j];
                    double den = Math.sqrt(sq[i]) * Math.sqrt(sq[j]);
                    pairs.add(new MergeStatistics.PairStatistics(i, j, o, ag[i * n + j],
                            o == 0 ? Double.NaN : (double) ag[i * n + j] / o, den == 0 ? Double.NaN : dt[i * n + j] / den));
                }
            }
            List<Double> norms = Arrays.stream(sq).map(Math::sqrt).boxed().toList();
            return new MergeStatistics.TensorStatistics(name, numel, Arrays.stream(sup).boxed().toList(), norms, pairs);
        }
    }

    private Scan scan(ForkJoinPool pool) {
        Scan s = new Scan();
        boolean pairs = statistics || allRules().stream().anyMatch(r -> r.strategy().isKrum());
        AtomicInteger done = new AtomicInteger();
        AtomicLong bytes = new AtomicLong();
        long total = tensors.stream().mapToLong(c -> c.out.byteSize()).sum();
        for (TensorCtx c : tensors) {
            s.init(c.index);
        }
        runPass(pool, tensors, new Pass() {
            @Override
            public Opened open(TensorCtx c) {
                if (!c.merged) {
                    return null;
                }
                MergeParameters p = c.rule.params();
                return new Opened(c, c.rule.strategy() == Strategy.FISHER && p.normalizeFishers());
            }

            @Override
            public void block(TensorCtx c, Opened o, Block b, long start, int len) {
                if (o == null) {
                    return;
                }
                int t = c.index;
                load(b, o, start, len, true);
                b.clearScan();
                scanBlock(b, pairs, o.withFisher, o.withFisher && c.rule.params().favorBase() && o.baseFisherSeg != null);
                synchronized (o) {
                    add(s.sumsq[t], b.sumsq);
                    add(s.dot[t], b.dot);
                    add(s.support[t], b.support);
                    add(s.overlap[t], b.overlap);
                    add(s.agree[t], b.agree);
                    add(s.fisherSum[t], b.fisherSum);
                    add(s.fisherCount[t], b.fisherCount);
                }
            }

            @Override
            public void tensorDone(TensorCtx c, Opened o) {
                if (o != null) {
                    o.close();
                }
                progress.progress(new ProgressListener.Progress("scan", done.incrementAndGet(), tensors.size(),
                        bytes.addAndGet(c.out.byteSize()), total));
            }
        });
        return s;
    }

    private void scanBlock(Block b, boolean pairs, boolean fisher, boolean baseFisherFile) {
        int len = b.len;
        for (int i = 0; i < n; i++) {
            float[] d = b.d[i];
            double sq = 0;
            long sup = 0;
            for (int j = 0; j < len; j++) {
                double x = d[j];
                sq += x * x;
                sup += d[j] != 0 ? 1 : 0;
            }
            b.sumsq[i] = sq;
            b.support[i] = sup;
            if (fisher) {
                float[] f = b.f[i];
                float[] m = b.m[i];
                double fs = 0;
                double fc = 0;
                for (int j = 0; j < len; j++) {
                    fs += (double) f[j] * m[j];
                    fc += m[j];
                }
                b.fisherSum[i] = fs;
                b.fisherCount[i] = fc;
            }
            if (!pairs) {
                continue;
            }
            for (int k = i + 1; k < n; k++) {
                float[] e = b.d[k];
                double dt = 0;
                long ov = 0;
                long ag = 0;
                for (int j = 0; j < len; j++) {
                    float x = d[j];
                    float y = e[j];
                    dt += (double) x * y;
                    if (x != 0 && y != 0) {
                        ov++;
                        ag += (x > 0) == (y > 0) ? 1 : 0;
                    }
                }
                b.dot[i * n + k] = dt;
                b.overlap[i * n + k] = ov;
                b.agree[i * n + k] = ag;
            }
        }
        if (baseFisherFile) {
            double fs = 0;
            for (int j = 0; j < len; j++) {
                fs += b.baseFisher[j];
            }
            b.fisherSum[n] = fs;
            b.fisherCount[n] = len;
        }
    }

    private static void add(double[] acc, double[] x) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += x[i];
        }
    }

    private static void add(long[] acc, long[] x) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += x[i];
        }
    }

    // ---------------------------------------------------------------- derived settings

    /** Sets each tensor's weights, clip factors, Fisher multipliers and DARE streams; returns Krum's choices. */
    private Map<String, List<String>> derive(Scan scan) {
        double[] modelSq = new double[n];
        double[] fisherMean = new double[n + 1];
        if (scan != null) {
            double[] fs = new double[n + 1];
            double[] fc = new double[n + 1];
            for (TensorCtx c : tensors) {
                if (c.merged) {
                    for (int i = 0; i < n; i++) {
                        modelSq[i] += scan.sumsq[c.index][i];
                    }
                    for (int i = 0; i <= n; i++) {
                        fs[i] += scan.fisherSum[c.index][i];
                        fc[i] += scan.fisherCount[c.index][i];
                    }
                }
            }
            for (int i = 0; i <= n; i++) {
                fisherMean[i] = fc[i] > 0 ? fs[i] / fc[i] : 0;
            }
        }
        for (TensorCtx c : tensors) {
            MergeParameters p = c.rule.params();
            c.w = new float[n];
            for (int i = 0; i < n; i++) {
                c.w[i] = (float) inputs.get(i).weight();
            }
            c.scale = null;
            if (p.clipNorm() > 0 && c.merged) {
                c.scale = new float[n];
                for (int i = 0; i < n; i++) {
                    double sq = p.clipScope() == MergeParameters.ClipScope.TENSOR ? scan.sumsq[c.index][i] : modelSq[i];
                    double norm = Math.sqrt(sq);
                    c.scale[i] = norm > p.clipNorm() ? (float) (p.clipNorm() / norm) : 1f;
                }
            }
            c.fisherInv = new float[n + 1];
            for (int i = 0; i <= n; i++) {
                boolean normalize = p.normalizeFishers() && c.rule.strategy() == Strategy.FISHER && fisherMean[i] > 0;
                c.fisherInv[i] = normalize ? (float) (1 / fisherMean[i]) : 1f;
            }
            if (c.rule.strategy() == Strategy.DARE) {
                c.salt = new long[n];
                for (int i = 0; i < n; i++) {
                    c.salt[i] = Dare.salt(p.seed(), i, c.name());
                }
            }
        }
        Map<String, List<String>> selected = new LinkedHashMap<>();
        for (Rule r : allRules()) {
            if (!r.strategy().isKrum() || tensors.stream().noneMatch(c -> c.rule == r)) {
                continue;
            }
            float[] w = krumWeights(r, scan);
            List<String> chosen = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                if (w[i] != 0) {
                    chosen.add(inputs.get(i).label());
                }
            }
            selected.put(r.pattern(), chosen);
            tensors.stream().filter(c -> c.rule == r).forEach(c -> c.w = w.clone());
        }
        for (TensorCtx c : tensors) {
            float s = 0;
            for (float x : c.w) {
                s += x;
            }
            c.wSum = s;
        }
        return selected;
    }

    /** Krum over the tensors of rule {@code r}: squared distances between (clipped) changes from the scan's norms and dots. */
    private float[] krumWeights(Rule r, Scan scan) {
        double[] dist = new double[n * n];
        for (TensorCtx c : tensors) {
            if (c.rule != r || !c.merged) {
                continue;
            }
            double[] sq = scan.sumsq[c.index];
            double[] dt = scan.dot[c.index];
            for (int i = 0; i < n; i++) {
                double si = c.scale == null ? 1 : c.scale[i];
                for (int j = i + 1; j < n; j++) {
                    double sj = c.scale == null ? 1 : c.scale[j];
                    dist[i * n + j] += si * si * sq[i] + sj * sj * sq[j] - 2 * si * sj * dt[i * n + j];
                }
            }
        }
        int f = byzantine(r.params());
        int neighbours = n - f - 2;
        double[] score = new double[n];
        for (int i = 0; i < n; i++) {
            double[] others = new double[n - 1];
            int k = 0;
            for (int j = 0; j < n; j++) {
                if (j != i) {
                    others[k++] = Math.max(0, dist[Math.min(i, j) * n + Math.max(i, j)]);
                }
            }
            Arrays.sort(others);
            for (int q = 0; q < neighbours; q++) {
                score[i] += others[q];
            }
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[a], score[b]) : Integer.compare(a, b));
        float[] w = new float[n];
        if (r.strategy() == Strategy.KRUM) {
            w[order[0]] = 1f; // Krum takes the chosen change as is, whatever its weight
        } else {
            int m = r.params().select() > 0 ? r.params().select() : n - f;
            for (int q = 0; q < m; q++) {
                w[order[q]] = (float) inputs.get(order[q]).weight();
            }
        }
        return w;
    }

    // ---------------------------------------------------------------- merge pass

    private long merge(ForkJoinPool pool, BlockOutput output) {
        AtomicInteger done = new AtomicInteger();
        AtomicLong bytes = new AtomicLong();
        long total = tensors.stream().mapToLong(c -> c.out.byteSize()).sum();
        TensorSource from = reference();

        /** The merge pass; {@code ready} is a tensor opened beforehand (TIES, after its thresholds). */
        final class MergePass implements Pass {
            private final Opened ready;

            MergePass(Opened ready) {
                this.ready = ready;
            }

            @Override
            public Opened open(TensorCtx c) {
                output.begin(c);
                if (ready != null) {
                    return ready;
                }
                return c.merged ? new Opened(c, c.rule.strategy() == Strategy.FISHER) : null;
            }

            @Override
            public void block(TensorCtx c, Opened o, Block b, long start, int len) {
                if (!c.merged) {
                    output.copy(c, from.data(c.name()), start, len);
                    return;
                }
                if (!o.dense || !DenseKernels.merge(b, c, o, start, len)) {
                    load(b, o, start, len, false);
                    Kernels.merge(b, c);
                }
                float eta = (float) c.rule.params().stepSize();
                float[] r = b.out;
                float[] bs = b.base;
                for (int j = 0; j < len; j++) {
                    r[j] = bs[j] + eta * r[j];
                }
                output.write(c, b, start, len);
            }

            @Override
            public void chunkDone(Block b) {
                output.flush(b);
            }

            @Override
            public void tensorDone(TensorCtx c, Opened o) {
                if (o != null) {
                    o.close();
                }
                output.done(c);
                progress.progress(new ProgressListener.Progress("merge", done.incrementAndGet(), tensors.size(),
                        bytes.addAndGet(c.out.byteSize()), total));
            }
        }

        // TIES needs a pass over each tensor for its thresholds first: those go one at a time.
        List<TensorCtx> rest = new ArrayList<>();
        for (TensorCtx c : tensors) {
            if (!c.merged || c.rule.strategy() != Strategy.TIES) {
                rest.add(c);
                continue;
            }
            Opened o = new Opened(c, false);
            try {
                c.thr = Ties.thresholds(this, pool, c, o);
                runPass(pool, List.of(c), new MergePass(o));
            } finally {
                o.close();
            }
        }
        runPass(pool, rest, new MergePass(null));
        return total;
    }

    /** TIES needs each input's magnitude threshold per tensor before merging it. */
    private static final class Ties {

        static float[] thresholds(Merger mg, ForkJoinPool pool, TensorCtx c, Opened o) {
            int n = mg.n;
            long numel = c.numel();
            long k = Math.round(c.rule.params().density() * numel);
            float[] thr = new float[n];
            if (numel <= mg.blockSize) {
                // One block: sort the magnitudes.
                Block b = mg.borrow();
                try {
                    mg.load(b, o, 0, (int) numel, false);
                    for (int i = 0; i < n; i++) {
                        float[] mag = new float[b.len];
                        int nz = 0;
                        for (int j = 0; j < b.len; j++) {
                            if (b.d[i][j] != 0) {
                                mag[nz++] = Math.abs(b.d[i][j]);
                            }
                        }
                        Arrays.sort(mag, 0, nz);
                        thr[i] = k == 0 ? Float.POSITIVE_INFINITY : k >= nz ? Float.MIN_VALUE : mag[(int) (nz - k)];
                    }
                } finally {
                    mg.blocks.push(b);
                }
                return thr;
            }
            // Exact k-th largest magnitude without holding the tensor: a radix select over the
            // float bits of |d| (ordered like the values), high 16 bits first, then low 16 bits.
            long[][] high = mg.histogram(pool, c, o, null);
            int[] bucket = new int[n];
            long[] rest = new long[n];
            boolean second = false;
            for (int i = 0; i < n; i++) {
                long nz = Arrays.stream(high[i]).sum();
                bucket[i] = -1;
                if (k == 0) {
                    thr[i] = Float.POSITIVE_INFINITY;
                } else if (k >= nz) {
                    thr[i] = Float.MIN_VALUE;
                } else {
                    long cum = 0;
                    for (int h = 0xffff; h >= 0; h--) {
                        if (cum + high[i][h] >= k) {
                            bucket[i] = h;
                            rest[i] = k - cum;
                            second = true;
                            break;
                        }
                        cum += high[i][h];
                    }
                }
            }
            if (second) {
                long[][] low = mg.histogram(pool, c, o, bucket);
                for (int i = 0; i < n; i++) {
                    if (bucket[i] < 0) {
                        continue;
                    }
                    long cum = 0;
                    for (int l = 0xffff; l >= 0; l--) {
                        cum += low[i][l];
                        if (cum >= rest[i]) {
                            thr[i] = Float.intBitsToFloat(bucket[i] << 16 | l);
                            break;
                        }
                    }
                }
            }
            return thr;
        }
    }

    /**
     * Per input, counts of the non-zero |d| by the high 16 bits of their float bits; or, when
     * {@code bucket} is given, by the low 16 bits among those whose high bits equal bucket[i].
     */
    private long[][] histogram(ForkJoinPool pool, TensorCtx c, Opened o, int[] bucket) {
        long numel = c.numel();
        int nb = Math.toIntExact((numel + blockSize - 1) / blockSize);
        int parts = Math.min(threads, nb);
        return pool.submit(() -> IntStream.range(0, parts).parallel().mapToObj(part -> {
            long[][] h = new long[n][65536];
            Block b = borrow();
            try {
                for (int k = (int) ((long) part * nb / parts); k < (int) ((long) (part + 1) * nb / parts); k++) {
                    long start = (long) k * blockSize;
                    int len = (int) Math.min(blockSize, numel - start);
                    load(b, o, start, len, false);
                    for (int i = 0; i < n; i++) {
                        float[] d = b.d[i];
                        long[] hi = h[i];
                        int want = bucket == null ? 0 : bucket[i];
                        for (int j = 0; j < len; j++) {
                            int bits = Float.floatToRawIntBits(d[j]) & 0x7fffffff;
                            if (bits == 0) {
                                continue;
                            }
                            if (bucket == null) {
                                hi[bits >>> 16]++;
                            } else if (bits >>> 16 == want) {
                                hi[bits & 0xffff]++;
                            }
                        }
                    }
                }
            } finally {
                blocks.push(b);
            }
            return h;
        }).reduce((x, y) -> {
            for (int i = 0; i < n; i++) {
                for (int q = 0; q < 65536; q++) {
                    x[i][q] += y[i][q];
                }
            }
            return x;
        }).orElseThrow()).join();
    }

    // ---------------------------------------------------------------- builder

    /** Collects a merge's inputs and settings; {@link #build()} validates them. */
    public static final class Builder {
        private TensorSource base;
        private TensorSource baseFisher;
        private final List<MergeInput> inputs = new ArrayList<>();
        private Strategy strategy = Strategy.AVERAGE;
        private MergeParameters parameters = MergeParameters.defaults();
        private final List<Rule> rules = new ArrayList<>();
        private DType outputDType;
        private boolean statistics;
        private int threads = Runtime.getRuntime().availableProcessors();
        private int blockSize = DEFAULT_BLOCK_SIZE;
        private ProgressListener progress = ProgressListener.NONE;
        private final Map<String, String> metadata = new HashMap<>();

        private Builder() {}

        /** The model the changes are against; optional for average, fisher (without favor_base), median, trimmed-mean and Krum of full models. */
        public Builder base(TensorSource base) {
            this.base = base;
            return this;
        }

        /** The base's diagonal Fisher, for {@code favor_base}. */
        public Builder baseFisher(TensorSource baseFisher) {
            this.baseFisher = baseFisher;
            return this;
        }

        public Builder input(MergeInput input) {
            inputs.add(Objects.requireNonNull(input, "input"));
            return this;
        }

        public Builder inputs(List<MergeInput> all) {
            all.forEach(this::input);
            return this;
        }

        public Builder strategy(Strategy strategy) {
            this.strategy = Objects.requireNonNull(strategy, "strategy");
            return this;
        }

        public Builder parameters(MergeParameters parameters) {
            this.parameters = Objects.requireNonNull(parameters, "parameters");
            return this;
        }

        /**
         * Uses {@code strategy} and {@code params} for tensors matching {@code pattern} (a glob
         * where {@code *} matches anything, or {@code re:} and a regular expression). Rules are
         * tried in the order added; the first match wins; unmatched tensors use {@link #strategy}.
         */
        public Builder rule(String pattern, Strategy strategy, MergeParameters params) {
            rules.add(Rule.of(pattern, strategy, params));
            return this;
        }

        /** Writes floating-point tensors in this dtype instead of the base's. */
        public Builder outputDType(DType dtype) {
            this.outputDType = dtype;
            return this;
        }

        /** Computes {@link MergeStatistics} (one extra read of the inputs). */
        public Builder statistics(boolean on) {
            this.statistics = on;
            return this;
        }

        public Builder threads(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be >= 1");
            }
            this.threads = threads;
            return this;
        }

        /** Elements per block (default {@value #DEFAULT_BLOCK_SIZE}); results do not depend on it beyond float rounding of sums. */
        public Builder blockSize(int blockSize) {
            if (blockSize < 1) {
                throw new IllegalArgumentException("blockSize must be >= 1");
            }
            this.blockSize = blockSize;
            return this;
        }

        public Builder progress(ProgressListener progress) {
            this.progress = Objects.requireNonNull(progress, "progress");
            return this;
        }

        /** Extra string metadata for a safetensors output (provenance). */
        public Builder metadata(Map<String, String> extra) {
            metadata.putAll(extra);
            return this;
        }

        public Merger build() {
            return new Merger(this);
        }
    }
}
