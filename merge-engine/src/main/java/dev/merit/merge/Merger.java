package dev.merit.merge;

import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ForkJoinPool;

/**
 * Merges a base and N inputs block by block on a fixed number of threads, which claim runs of
 * adjacent blocks ({@value PassScheduler#CHUNK_ELEMENTS} elements) from one queue spanning every tensor.
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

    private final MergePlan plan;
    private final Map<String, String> metadata;

    private Merger(Builder b) {
        this.plan = new MergePlan(b.base, b.baseFisher, b.inputs, Rule.of("*", b.strategy, b.parameters), b.rules,
                b.outputDType, b.statistics, b.threads, b.blockSize, b.progress);
        Map<String, String> md = new LinkedHashMap<>(plan.reference().metadata());
        md.put("merit.merge.strategy", plan.mainRule.strategy().id());
        md.putAll(b.metadata);
        this.metadata = Map.copyOf(md);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The output's tensors, in order, with their output dtypes. */
    public List<TensorInfo> layout() {
        return plan.tensors.stream().map(c -> c.out).toList();
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
        return run(new BlockOutput.ToSink(sink, plan.tensors.size()));
    }

    /** Scan (when a strategy, clipping or statistics need it), derived settings, then the merge pass. */
    private MergeResult run(BlockOutput output) {
        long t0 = System.nanoTime();
        ForkJoinPool pool = new ForkJoinPool(plan.threads);
        try {
            PassScheduler scheduler = new PassScheduler(plan, pool);
            Scan scan = plan.needsScan() ? Scan.dense(plan, scheduler) : null;
            Map<String, List<String>> selected = TensorSettings.derive(plan, scan);
            long bytes = new DensePass(plan, pool, scheduler, output).run();
            long elements = plan.tensors.stream().mapToLong(TensorCtx::numel).sum();
            Optional<MergeStatistics> stats = plan.statistics ? Optional.of(scan.statistics()) : Optional.empty();
            return new MergeResult(plan.tensors.size(), elements, bytes, System.nanoTime() - t0, selected, stats);
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
        return SparseMerge.obstacle(plan) == null;
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
        String obstacle = SparseMerge.obstacle(plan);
        if (obstacle != null) {
            throw new IllegalStateException("no sparse merge: " + obstacle);
        }
        ForkJoinPool pool = new ForkJoinPool(plan.threads);
        try {
            return new SparseMerge(plan).run(pool, arena);
        } finally {
            pool.shutdownNow();
        }
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
