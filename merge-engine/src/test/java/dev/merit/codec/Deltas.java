package dev.merit.codec;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.delta.SparseTensorDelta.Semantics;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;

/** Random sparse deltas for codec tests. */
final class Deltas {

    private Deltas() {}

    /** Exactly k positions out of n, uniformly (selection sampling), ascending. */
    static MemorySegment positions(long n, long k, SplittableRandom rnd, Arena arena) {
        MemorySegment pos = arena.allocate(Math.max(8, k * 8), 8);
        long chosen = 0;
        for (long i = 0; i < n && chosen < k; i++) {
            if (rnd.nextLong(n - i) < k - chosen) {
                pos.setAtIndex(SparseTensorDelta.POSITION, chosen++, i);
            }
        }
        return pos;
    }

    /** ADD delta with k of n entries, values ~ N(0, scale). */
    static SparseTensorDelta add(TensorInfo info, long k, long seed, double scale, Arena arena) {
        SplittableRandom rnd = new SplittableRandom(seed);
        MemorySegment pos = positions(info.numel(), k, rnd, arena);
        MemorySegment vals = arena.allocate(Math.max(4, k * 4), 8);
        for (long i = 0; i < k; i++) {
            vals.setAtIndex(SparseTensorDelta.ADD_VALUE, i, (float) (gaussian(rnd) * scale));
        }
        return new SparseTensorDelta(info, Semantics.ADD, k, pos, vals);
    }

    /** SET delta with k of n entries and random bytes as values (every bit pattern must survive). */
    static SparseTensorDelta set(TensorInfo info, long k, long seed, Arena arena) {
        SplittableRandom rnd = new SplittableRandom(seed);
        MemorySegment pos = positions(info.numel(), k, rnd, arena);
        long bytes = k * info.dtype().byteSize();
        MemorySegment vals = arena.allocate(Math.max(8, bytes), 8);
        for (long i = 0; i < bytes; i++) {
            vals.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
        }
        return new SparseTensorDelta(info, Semantics.SET, k, pos, vals);
    }

    static TensorInfo f32(String name, long... shape) {
        return TensorInfo.of(name, DType.F32, shape);
    }

    static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    static boolean samePositions(SparseTensorDelta a, SparseTensorDelta b) {
        return a.count() == b.count()
                && (a.count() == 0 || MemorySegment.mismatch(a.positions(), 0, a.count() * 8, b.positions(), 0, b.count() * 8) < 0);
    }

    static boolean sameValues(SparseTensorDelta a, SparseTensorDelta b) {
        long bytes = a.count() * a.valueType().byteSize();
        return a.count() == b.count() && a.valueType() == b.valueType()
                && (bytes == 0 || MemorySegment.mismatch(a.values(), 0, bytes, b.values(), 0, bytes) < 0);
    }
}
