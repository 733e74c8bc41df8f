package dev.merit.merge;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Per-tensor sums of one pass over the raw (unclipped) changes: squared norms, pairwise dots,
 * supports, overlaps and sign agreements, and Fisher sums. Clipping, Fisher normalization and
 * Krum are derived from them ({@link TensorSettings}); {@link #statistics()} turns them into
 * {@link MergeStatistics}.
 *
 * <p>Sums are deterministic whatever the number of threads: each block's sums are added, in
 * block order, into its chunk's partial ({@link PassScheduler} gives a chunk to one worker), and
 * the chunks' partials into the tensor's total in chunk order once the tensor is done. The sparse
 * scan adds its groups the same way, so both scans give the same bits.
 */
final class Scan {

    /** One set of sums over n inputs (index n of the Fisher sums is the base's Fisher). */
    static final class Sums {
        final double[] sumsq;
        final double[] dot;
        final long[] support;
        final long[] overlap;
        final long[] agree;
        final double[] fisherSum;
        final double[] fisherCount;

        Sums(int n) {
            sumsq = new double[n];
            dot = new double[n * n];
            support = new long[n];
            overlap = new long[n * n];
            agree = new long[n * n];
            fisherSum = new double[n + 1];
            fisherCount = new double[n + 1];
        }

        /** Adds one block's sums (see {@link #scanBlock}). */
        void addBlock(Block b) {
            add(sumsq, b.sumsq);
            add(dot, b.dot);
            add(support, b.support);
            add(overlap, b.overlap);
            add(agree, b.agree);
            add(fisherSum, b.fisherSum);
            add(fisherCount, b.fisherCount);
        }

        void add(Sums s) {
            add(sumsq, s.sumsq);
            add(dot, s.dot);
            add(support, s.support);
            add(overlap, s.overlap);
            add(agree, s.agree);
            add(fisherSum, s.fisherSum);
            add(fisherCount, s.fisherCount);
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
    }

    private final MergePlan plan;
    private final int n;
    /** Totals per tensor index. */
    final Sums[] tensor;

    Scan(MergePlan plan) {
        this.plan = plan;
        this.n = plan.n;
        this.tensor = new Sums[plan.tensors.size()];
        for (TensorCtx c : plan.tensors) {
            tensor[c.index] = new Sums(n);
        }
    }

    /** The scan pass over every tensor's blocks. */
    static Scan dense(MergePlan plan, PassScheduler scheduler) {
        Scan s = new Scan(plan);
        boolean pairs = plan.needsPairs();
        AtomicInteger done = new AtomicInteger();
        AtomicLong bytes = new AtomicLong();
        long total = plan.totalBytes();
        int blockSize = plan.blockSize;
        // Chunk partials of the tensors in flight; a chunk's slot is written by its one worker only.
        Sums[][] partials = new Sums[plan.tensors.size()][];
        scheduler.run(plan.tensors, new PassScheduler.Pass() {
            @Override
            public OpenedTensor open(TensorCtx c) {
                if (!c.merged) {
                    return null;
                }
                MergeParameters p = c.rule.params();
                Sums[] chunks = new Sums[PassScheduler.chunks(c.numel(), blockSize)];
                for (int k = 0; k < chunks.length; k++) {
                    chunks[k] = new Sums(plan.n);
                }
                partials[c.index] = chunks;
                return new OpenedTensor(plan, c, c.rule.strategy() == Strategy.FISHER && p.normalizeFishers());
            }

            @Override
            public void block(TensorCtx c, OpenedTensor o, Block b, long start, int len) {
                if (o == null) {
                    return;
                }
                o.load(b, start, len, true);
                b.clearScan();
                s.scanBlock(b, pairs, o.withFisher, o.withFisher && c.rule.params().favorBase() && o.baseFisherSeg != null);
                partials[c.index][PassScheduler.chunkOf(start, blockSize)].addBlock(b);
            }

            @Override
            public void tensorDone(TensorCtx c, OpenedTensor o) {
                if (o != null) {
                    o.close();
                    for (Sums chunk : partials[c.index]) { // the job's counter orders this after every chunk's writes
                        s.tensor[c.index].add(chunk);
                    }
                    partials[c.index] = null;
                }
                plan.progress.progress(new ProgressListener.Progress("scan", done.incrementAndGet(), plan.tensors.size(),
                        bytes.addAndGet(c.out.byteSize()), total));
            }
        });
        return s;
    }

    /** Puts one loaded block's sums into {@code b}'s scan accumulators (cleared by the caller). */
    void scanBlock(Block b, boolean pairs, boolean fisher, boolean baseFisherFile) {
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

    /** The reviewers' statistics: per merged tensor and over the whole model. */
    MergeStatistics statistics() {
        List<MergeStatistics.TensorStatistics> per = new ArrayList<>();
        Sums all = new Sums(n);
        long numel = 0;
        for (TensorCtx c : plan.tensors) {
            if (!c.merged) {
                continue;
            }
            Sums t = tensor[c.index];
            per.add(stats(c.name(), c.numel(), t));
            numel += c.numel();
            all.add(t);
        }
        return new MergeStatistics(plan.inputs.stream().map(MergeInput::label).toList(), stats("*", numel, all), per);
    }

    private MergeStatistics.TensorStatistics stats(String name, long numel, Sums s) {
        List<MergeStatistics.PairStatistics> pairs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                long o = s.overlap[i * n + j];
                long ag = s.agree[i * n + j];
                double den = Math.sqrt(s.sumsq[i]) * Math.sqrt(s.sumsq[j]);
                pairs.add(new MergeStatistics.PairStatistics(i, j, o, ag,
                        o == 0 ? Double.NaN : (double) ag / o, den == 0 ? Double.NaN : s.dot[i * n + j] / den));
            }
        }
        List<Double> norms = Arrays.stream(s.sumsq).map(Math::sqrt).boxed().toList();
        return new MergeStatistics.TensorStatistics(name, numel, Arrays.stream(s.support).boxed().toList(), norms, pairs);
    }
}
