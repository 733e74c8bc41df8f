package dev.merit.store;

import dev.merit.codec.DecodeOptions;
import dev.merit.codec.DecodedDelta;
import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.codec.EncodeResult;
import dev.merit.codec.EncodeStats;
import dev.merit.codec.LowRank;
import dev.merit.codec.ValueCoding;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * How a commit's per-tensor changes become stored delta objects, in the codec's self-describing
 * format: lossless SET deltas by default, quantized ADD deltas ({@code fp16}, {@code bf16},
 * {@code int8}) or rank-r factors when the commit asks for them.
 */
final class StoredDeltas {

    /** The encoded bytes and what they cost, per part. */
    record Encoded(byte[] bytes, EncodeStats stats, long entries) {}

    private final ValueCoding values;
    private final int lowRank;

    StoredDeltas(ValueCoding values, int lowRank) {
        this.values = values;
        this.lowRank = lowRank;
    }

    boolean lossless() {
        return values == ValueCoding.EXACT && lowRank == 0;
    }

    static DecodeOptions decodeOptions(TensorInfo info) {
        return DecodeOptions.defaults().expecting(info)
                .withMaxElements(Math.max(DecodeOptions.DEFAULT_MAX_ELEMENTS, info.numel()));
    }

    /**
     * Encodes the change from {@code before} to {@code after} restricted to {@code selected}
     * (a SET delta holding the new values at the kept positions).
     */
    Encoded encode(SparseTensorDelta selected, MemorySegment before, MemorySegment after, Arena arena) {
        TensorInfo t = selected.info();
        boolean floating = t.dtype().isFloatingPoint();
        EncodeResult r;
        if (lowRank > 0 && floating && t.rank() == 2) {
            MemorySegment change = denseChange(t, before, after, arena);
            r = LowRank.encode(t, change, Math.min(lowRank, (int) Math.min(t.dim(0), t.dim(1))), 0x5eed,
                    EncodeOptions.defaults().withValues(values), arena);
            return new Encoded(r.encoded().toArray(ValueLayout.JAVA_BYTE), r.stats(), t.numel());
        }
        if (values != ValueCoding.EXACT && floating) {
            SparseTensorDelta add = toAdd(selected, before, arena);
            r = DeltaCodec.encode(add, EncodeOptions.defaults().withValues(values), arena);
        } else {
            r = DeltaCodec.encode(selected, EncodeOptions.defaults(), arena);
        }
        return new Encoded(r.encoded().toArray(ValueLayout.JAVA_BYTE), r.stats(), selected.count());
    }

    /** Applies a stored delta to a tensor's bytes, exactly as checkout does. */
    static void apply(TensorInfo info, byte[] blob, MemorySegment tensor) {
        try (Arena arena = Arena.ofConfined()) {
            DecodedDelta d = DeltaCodec.decode(MemorySegment.ofArray(blob), decodeOptions(info), arena);
            d.applyInPlace(tensor);
        }
    }

    /** The change (after - before) at a SET delta's positions, as float32 ADD values. */
    static SparseTensorDelta toAdd(SparseTensorDelta set, MemorySegment before, Arena arena) {
        TensorInfo t = set.info();
        DType dt = t.dtype();
        long n = set.count();
        MemorySegment values = arena.allocate(Math.max(1, n * Float.BYTES), 8);
        for (long i = 0; i < n; i++) {
            long p = set.position(i);
            float now = dt.getFloat(set.values(), i);
            values.setAtIndex(SparseTensorDelta.ADD_VALUE, i, now - dt.getFloat(before, p));
        }
        return new SparseTensorDelta(t, SparseTensorDelta.Semantics.ADD, n, set.positions(), values);
    }

    private static MemorySegment denseChange(TensorInfo t, MemorySegment before, MemorySegment after, Arena arena) {
        long n = t.numel();
        MemorySegment change = arena.allocate(Math.max(1, n * Float.BYTES), 8);
        DType dt = t.dtype();
        for (long i = 0; i < n; i++) {
            change.setAtIndex(SparseTensorDelta.ADD_VALUE, i, dt.getFloat(after, i) - dt.getFloat(before, i));
        }
        return change;
    }
}
