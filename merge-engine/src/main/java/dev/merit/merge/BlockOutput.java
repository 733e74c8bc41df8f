package dev.merit.merge;

import dev.merit.safetensors.SafetensorsWriter;
import java.lang.foreign.MemorySegment;

/**
 * Where the merge pass puts merged blocks: straight into a {@link MergeSink}'s segments, or
 * gathered per worker in a native staging buffer and written to a safetensors file with one
 * positional write per run of adjacent blocks (a fresh mapping would fault in every page).
 */
abstract sealed class BlockOutput permits BlockOutput.ToSink, BlockOutput.ToFile {

    /** Called once per tensor before any of its blocks. */
    abstract void begin(TensorCtx c);

    /** Puts {@code b.out[0, len)} as elements [start, start + len) of {@code c}, in its output dtype. */
    abstract void write(TensorCtx c, Block b, long start, int len);

    /** Copies elements [start, start + len) of an unmerged tensor from {@code src} (same dtype). */
    abstract void copy(TensorCtx c, MemorySegment src, long start, int len);

    /** Everything {@code b} staged must reach the output now (end of a worker's run of blocks). */
    abstract void flush(Block b);

    /** Every block of {@code c} is out. */
    abstract void done(TensorCtx c);

    static final class ToSink extends BlockOutput {
        private final MergeSink sink;
        private final MemorySegment[] segments;

        ToSink(MergeSink sink, int tensors) {
            this.sink = sink;
            this.segments = new MemorySegment[tensors];
        }

        @Override
        void begin(TensorCtx c) {
            MemorySegment s = sink.segment(c.out);
            if (s.byteSize() < c.out.byteSize()) {
                throw new IllegalStateException("sink segment for '" + c.name() + "' holds " + s.byteSize()
                        + " bytes, needs " + c.out.byteSize());
            }
            segments[c.index] = s;
        }

        @Override
        void write(TensorCtx c, Block b, long start, int len) {
            BlockIO.write(b.out, len, segments[c.index], c.out.dtype(), start, b.s16, b.f64);
        }

        @Override
        void copy(TensorCtx c, MemorySegment src, long start, int len) {
            long es = c.out.dtype().byteSize();
            MemorySegment.copy(src, start * es, segments[c.index], start * es, len * es);
        }

        @Override
        void flush(Block b) {}

        @Override
        void done(TensorCtx c) {
            segments[c.index] = null;
            sink.tensorDone(c.out);
        }
    }

    static final class ToFile extends BlockOutput {
        /** One write per 1 MiB: large enough that syscalls cost little, small enough to stay in cache. */
        static final int STAGE_BYTES = 1 << 20;

        private final SafetensorsWriter writer;

        ToFile(SafetensorsWriter writer) {
            this.writer = writer;
        }

        @Override
        void begin(TensorCtx c) {}

        @Override
        void write(TensorCtx c, Block b, long start, int len) {
            int es = c.out.dtype().byteSize();
            MemorySegment stage = b.stage(STAGE_BYTES);
            if (b.stageLen > 0 && (b.stageTensor != c || b.stageStart + b.stageLen != start
                    || (long) (b.stageLen + len) * es > stage.byteSize())) {
                flush(b);
            }
            if (b.stageLen == 0) {
                b.stageTensor = c;
                b.stageStart = start;
            }
            BlockIO.write(b.out, len, stage, c.out.dtype(), b.stageLen, b.s16, b.f64);
            b.stageLen += len;
        }

        @Override
        void copy(TensorCtx c, MemorySegment src, long start, int len) {
            long es = c.out.dtype().byteSize();
            writer.write(c.name(), start * es, src.asSlice(start * es, len * es));
        }

        @Override
        void flush(Block b) {
            if (b.stageLen > 0) {
                TensorCtx c = b.stageTensor;
                long es = c.out.dtype().byteSize();
                writer.write(c.name(), b.stageStart * es, b.stage(STAGE_BYTES).asSlice(0, b.stageLen * es));
            }
            b.clearStage();
        }

        @Override
        void done(TensorCtx c) {}
    }
}
