package dev.merit.merge;

import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The merge pass over every tensor, block by block, into a {@link BlockOutput}: each block is
 * loaded (or, when every input is dense, folded straight from the inputs by {@link DenseKernels}),
 * merged by {@link Kernels}, and written as {@code base + step_size * D}. Tensors that are not
 * floating-point are copied from the reference. TIES tensors get their thresholds first, and
 * RegMean layers their solved change ({@link RegMean}), one tensor at a time.
 */
final class DensePass {

    private final MergePlan plan;
    private final ForkJoinPool pool;
    private final PassScheduler scheduler;
    private final BlockOutput output;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicLong bytes = new AtomicLong();
    private final long total;
    private final TensorSource from;

    DensePass(MergePlan plan, ForkJoinPool pool, PassScheduler scheduler, BlockOutput output) {
        this.plan = plan;
        this.pool = pool;
        this.scheduler = scheduler;
        this.output = output;
        this.total = plan.totalBytes();
        this.from = plan.reference();
    }

    /** Runs the pass; returns the bytes of output tensors. */
    long run() {
        List<TensorCtx> rest = new ArrayList<>();
        for (TensorCtx c : plan.tensors) {
            if (c.merged && c.rule.strategy() == Strategy.REGMEAN) {
                // RegMean solves a linear system per layer first; its pass then only writes base + eta * D.
                try (Arena shared = Arena.ofShared(); OpenedTensor o = new OpenedTensor(plan, c, false)) {
                    c.precomputed = RegMean.change(plan, pool, o, shared);
                    scheduler.run(List.of(c), new Blocks(o));
                } finally {
                    c.precomputed = null;
                }
                continue;
            }
            if (!c.merged || c.rule.strategy() != Strategy.TIES) {
                rest.add(c);
                continue;
            }
            OpenedTensor o = new OpenedTensor(plan, c, false);
            try {
                c.thr = Ties.thresholds(plan, pool, o);
                scheduler.run(List.of(c), new Blocks(o));
            } finally {
                o.close();
            }
        }
        scheduler.run(rest, new Blocks(null));
        return total;
    }

    /** The pass itself; {@code ready} is a tensor opened beforehand (TIES, after its thresholds). */
    private final class Blocks implements PassScheduler.Pass {
        private final OpenedTensor ready;

        Blocks(OpenedTensor ready) {
            this.ready = ready;
        }

        @Override
        public OpenedTensor open(TensorCtx c) {
            output.begin(c);
            if (ready != null) {
                return ready;
            }
            return c.merged ? new OpenedTensor(plan, c, c.rule.strategy() == Strategy.FISHER) : null;
        }

        @Override
        public void block(TensorCtx c, OpenedTensor o, Block b, long start, int len) {
            if (!c.merged) {
                output.copy(c, from.data(c.name()), start, len);
                return;
            }
            if (c.precomputed != null) {
                o.loadBase(b, start, len);
                MemorySegment.copy(c.precomputed, ValueLayout.JAVA_FLOAT, start * Float.BYTES, b.out, 0, len);
            } else if (!o.dense || !DenseKernels.merge(b, c, o, start, len)) {
                o.load(b, start, len, false);
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
        public void tensorDone(TensorCtx c, OpenedTensor o) {
            if (o != null) {
                o.close();
            }
            output.done(c);
            plan.progress.progress(new ProgressListener.Progress("merge", done.incrementAndGet(), plan.tensors.size(),
                    bytes.addAndGet(c.out.byteSize()), total));
        }
    }
}
