package dev.merit.codec;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A dense ADD change to a 2-D tensor given as {@code U V^T}.
 *
 * @param info the [rows, cols] tensor changed
 * @param rank number of factor columns r
 * @param u    rows x r float32, row-major, little-endian
 * @param v    cols x r float32, row-major, little-endian
 */
public record LowRankDelta(TensorInfo info, int rank, MemorySegment u, MemorySegment v) {

    public LowRankDelta {
        if (info.rank() != 2 || rank < 1 || rank > Math.min(info.dim(0), info.dim(1))) {
            throw new IllegalArgumentException("tensor '" + info.name() + "': rank " + rank + " factors need a 2-D tensor with both dimensions >= rank");
        }
        if (u.byteSize() < info.dim(0) * rank * 4 || v.byteSize() < info.dim(1) * rank * 4) {
            throw new IllegalArgumentException("tensor '" + info.name() + "': factor segments too small");
        }
    }

    public long rows() {
        return info.dim(0);
    }

    public long cols() {
        return info.dim(1);
    }

    /** Entry (i, j) of {@code U V^T}. */
    public float get(long i, long j) {
        float s = 0;
        for (int c = 0; c < rank; c++) {
            s += u.getAtIndex(Values.F32, i * rank + c) * v.getAtIndex(Values.F32, j * rank + c);
        }
        return s;
    }

    /** {@code U V^T} as a dense float32 rows x cols segment of {@code arena}. */
    public MemorySegment toDense(Arena arena) {
        MemorySegment out = arena.allocate(rows() * cols() * 4, 8);
        Par.ranges(rows(), Math.max(1, Par.GRAIN / Math.max(1, cols())), Par.shareable(out, u, v), (from, to) -> {
            for (long i = from; i < to; i++) {
                for (long j = 0; j < cols(); j++) {
                    out.setAtIndex(Values.F32, i * cols() + j, get(i, j));
                }
            }
        });
        return out;
    }

    /** Adds {@code U V^T} to {@code tensor} (the tensor's bytes, its own dtype), rounding per entry. */
    public void applyInPlace(MemorySegment tensor) {
        DType dt = info.dtype();
        long cols = cols();
        Par.ranges(rows(), Math.max(1, Par.GRAIN / Math.max(1, cols)), Par.shareable(tensor, u, v), (from, to) -> {
            for (long i = from; i < to; i++) {
                for (long j = 0; j < cols; j++) {
                    long p = i * cols + j;
                    dt.setFloat(tensor, p, dt.getFloat(tensor, p) + get(i, j));
                }
            }
        });
    }

    /** The same change as a sparse ADD delta touching every entry. */
    public SparseTensorDelta toSparse(Arena arena) {
        long n = info.numel();
        MemorySegment pos = arena.allocate(n * 8, 8);
        for (long i = 0; i < n; i++) {
            pos.setAtIndex(SparseTensorDelta.POSITION, i, i);
        }
        return new SparseTensorDelta(info, SparseTensorDelta.Semantics.ADD, n, pos, toDense(arena));
    }
}
