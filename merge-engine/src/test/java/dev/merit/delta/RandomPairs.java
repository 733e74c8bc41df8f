package dev.merit.delta;

import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Random before/after tensor pairs whose changes come from a small set of magnitudes, so exact
 * ties are common, plus sign-of-zero flips and NaN payload changes for float dtypes.
 */
final class RandomPairs {

    private RandomPairs() {}

    static TensorPair pair(Arena arena, String name, DType dtype, long numel, double changeRate, long seed) {
        return pair(arena, name, dtype, numel, changeRate, seed, false);
    }

    static TensorPair pair(Arena arena, String name, DType dtype, long numel, double changeRate, long seed, boolean specials) {
        TensorInfo info = TensorInfo.of(name, dtype, numel);
        MemorySegment before = arena.allocate(info.byteSize(), 8);
        MemorySegment after = arena.allocate(info.byteSize(), 8);
        SplittableRandom rnd = new SplittableRandom(seed);
        for (long i = 0; i < numel; i++) {
            double v = switch (dtype) {
                case BOOL -> rnd.nextInt(2);
                case U8 -> rnd.nextInt(256);
                case I8 -> rnd.nextInt(-128, 128);
                case I16, I32, I64 -> rnd.nextInt(-1000, 1000);
                default -> rnd.nextInt(-64, 64) / 8.0;
            };
            dtype.setDouble(before, i, v);
            double nv = v;
            if (rnd.nextDouble() < changeRate) {
                nv = switch (dtype) {
                    case BOOL -> 1 - v;
                    case U8 -> Math.clamp(v + rnd.nextInt(-3, 4), 0, 255);
                    case I8 -> Math.clamp(v + rnd.nextInt(-3, 4), -128, 127);
                    default -> v + rnd.nextInt(-4, 5) * 0.25; // magnitudes 0, 0.25 .. 1: many exact ties
                };
            }
            dtype.setDouble(after, i, nv);
        }
        if (specials && dtype.isFloatingPoint() && numel >= 8) {
            dtype.setDouble(before, 0, 0.0);
            dtype.setDouble(after, 0, -0.0);        // bits differ, value equal
            dtype.setDouble(before, 1, 1.0);
            dtype.setDouble(after, 1, Double.NaN);  // non-finite change
            dtype.setDouble(before, 2, Double.NaN);
            dtype.setDouble(after, 2, Double.NaN);  // same bits: unchanged
            dtype.setDouble(before, 3, Double.NEGATIVE_INFINITY);
            dtype.setDouble(after, 3, 2.0);         // non-finite change
            // Two NaNs with different payloads: changed bits, NaN change.
            MemorySegment.copy(before, 2L * dtype.byteSize(), before, 4L * dtype.byteSize(), dtype.byteSize());
            MemorySegment.copy(before, 2L * dtype.byteSize(), after, 4L * dtype.byteSize(), dtype.byteSize());
            after.set(ValueLayout.JAVA_BYTE, 4L * dtype.byteSize(), (byte) (after.get(ValueLayout.JAVA_BYTE, 4L * dtype.byteSize()) ^ 1));
        }
        return new TensorPair(info, before, after);
    }

    /** Several tensors of several dtypes. */
    static List<TensorPair> model(Arena arena, long seed, boolean specials) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<TensorPair> pairs = new ArrayList<>();
        DType[] dtypes = {DType.F32, DType.F16, DType.BF16, DType.F64, DType.I32, DType.U8, DType.BOOL, DType.I64, DType.I8, DType.I16};
        for (int t = 0; t < dtypes.length; t++) {
            long numel = 1 + rnd.nextInt(3000);
            pairs.add(pair(arena, "t" + t + "." + dtypes[t], dtypes[t], numel, rnd.nextDouble(0.05, 0.6), rnd.nextLong(), specials));
        }
        pairs.add(pair(arena, "empty", DType.F32, 0, 0.5, 1));
        pairs.add(pair(arena, "unchanged", DType.F32, 100, 0, 2));
        return pairs;
    }

    static long bits(TensorPair p, MemorySegment seg, long i) {
        int size = p.info().dtype().byteSize();
        long v = 0;
        for (int b = size - 1; b >= 0; b--) {
            v = (v << 8) | (seg.get(ValueLayout.JAVA_BYTE, i * size + b) & 0xff);
        }
        return v;
    }
}
