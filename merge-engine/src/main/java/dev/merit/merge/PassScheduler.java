package dev.merit.merge;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a dense pass over a list of tensors on the plan's threads, which claim runs of adjacent
 * blocks ("chunks", {@value #CHUNK_ELEMENTS} elements) from one queue spanning every tensor.
 * A chunk is always done by one worker, block after block in order, so anything a pass sums per
 * chunk is the same whatever the number of threads.
 */
final class PassScheduler {

    /** Elements per scheduling chunk: the run of adjacent blocks one worker does in order (1 MiB of F32). */
    static final int CHUNK_ELEMENTS = 256 * 1024;

    /** What a pass does with each tensor and block; called from worker threads. */
    interface Pass {
        /** Called once per tensor, by the first worker to reach it; returns what its blocks read (may be null). */
        OpenedTensor open(TensorCtx c);

        void block(TensorCtx c, OpenedTensor o, Block b, long start, int len);

        /** After a worker's run of adjacent blocks, before {@code b} goes back to the pool. */
        default void chunkDone(Block b) {}

        /** After the last block of {@code c}; closes {@code o}. */
        void tensorDone(TensorCtx c, OpenedTensor o);
    }

    private final MergePlan plan;
    private final ForkJoinPool pool;

    PassScheduler(MergePlan plan, ForkJoinPool pool) {
        this.plan = plan;
        this.pool = pool;
    }

    static int blocksPerChunk(int blockSize) {
        return Math.max(1, CHUNK_ELEMENTS / blockSize);
    }

    /** The number of chunks of a tensor of {@code numel} elements (at least 1). */
    static int chunks(long numel, int blockSize) {
        long nb = (numel + blockSize - 1) / blockSize;
        int per = blocksPerChunk(blockSize);
        return Math.toIntExact(Math.max(1, (nb + per - 1) / per));
    }

    /** The chunk holding the block that starts at element {@code start}. */
    static int chunkOf(long start, int blockSize) {
        return Math.toIntExact(start / blockSize / blocksPerChunk(blockSize));
    }

    /** One tensor of a pass: its chunks, how many are left, and what its blocks read once opened. */
    private static final class Job {
        final TensorCtx c;
        final long blocks;
        final AtomicInteger left;
        private OpenedTensor opened;
        private boolean isOpen;

        Job(TensorCtx c, long blocks, int chunks) {
            this.c = c;
            this.blocks = blocks;
            this.left = new AtomicInteger(chunks);
        }

        synchronized OpenedTensor open(Pass pass) {
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
     * Runs {@code pass} over {@code list}: workers claim chunks, in tensor order, from one shared
     * counter, so both cores stay busy across tensor boundaries (no barrier per tensor), small
     * tensors share a worker, and each worker's consecutive blocks are adjacent in the output.
     * A failure stops the other workers and is rethrown as is.
     */
    void run(List<TensorCtx> list, Pass pass) {
        if (list.isEmpty()) {
            return;
        }
        int blockSize = plan.blockSize;
        int blocksPerChunk = blocksPerChunk(blockSize);
        Job[] jobs = new Job[list.size()];
        long[] first = new long[list.size() + 1];
        for (int t = 0; t < jobs.length; t++) {
            TensorCtx c = list.get(t);
            long nb = (c.numel() + blockSize - 1) / blockSize;
            int chunks = chunks(c.numel(), blockSize);
            jobs[t] = new Job(c, nb, chunks);
            first[t + 1] = first[t] + chunks;
        }
        long total = first[jobs.length];
        AtomicLong next = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            Block b = plan.borrow();
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
                    OpenedTensor o = job.open(pass);
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
                plan.release(b);
            }
        };
        int workers = (int) Math.min(plan.threads, total);
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
}
