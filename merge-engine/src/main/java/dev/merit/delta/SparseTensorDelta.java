package dev.merit.delta;

import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * A sparse change to one tensor: {@code count} sorted, distinct positions into the flattened
 * tensor and one value per position. The memory segments are owned by the caller (usually an
 * arena scoped to one tensor of one operation).
 *
 * <p>Two value semantics exist because Merit needs both:
 * <ul>
 *   <li>{@link Semantics#SET}: values are the new entries, in the tensor's own dtype. Applying
 *       it is exact for every dtype, which lossless commits rely on.</li>
 *   <li>{@link Semantics#ADD}: values are float32 changes added to the entries. This is what
 *       contributors train, push and merge (averaging, Fisher weighting), and what lossy value
 *       encodings (fp16, bf16, int8) quantize.</li>
 * </ul>
 *
 * @param info      the tensor changed
 * @param semantics how values combine with the entries
 * @param count     number of changed positions
 * @param positions {@code count} int64 little-endian indices, strictly ascending, each in [0, numel)
 * @param values    {@code count} values: {@code info.dtype()} for SET, float32 for ADD (little-endian)
 */
public record SparseTensorDelta(TensorInfo info, Semantics semantics, long count,
                                MemorySegment positions, MemorySegment values) {

    public enum Semantics { SET, ADD }

    public static final ValueLayout.OfLong POSITION = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfFloat ADD_VALUE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public SparseTensorDelta {
        Objects.requireNonNull(info, "info");
        Objects.requireNonNull(semantics, "semantics");
        if (count < 0 || positions.byteSize() < count * Long.BYTES || values.byteSize() < count * valueType(info, semantics).byteSize()) {
            throw new IllegalArgumentException("tensor '" + info.name() + "': segments too small for " + count + " entries");
        }
    }

    /** The element type of {@link #values()}. */
    public DType valueType() {
        return valueType(info, semantics);
    }

    private static DType valueType(TensorInfo info, Semantics semantics) {
        return semantics == Semantics.SET ? info.dtype() : DType.F32;
    }

    public long position(long i) {
        return positions.getAtIndex(POSITION, i);
    }

    /** Fraction of the tensor's entries this delta touches. */
    public double density() {
        long n = info.numel();
        return n == 0 ? 0 : (double) count / n;
    }

    /** Applies the delta in place to {@code tensor}, which holds {@code info()}'s bytes. */
    public void applyInPlace(MemorySegment tensor) {
        DType dt = info.dtype();
        if (semantics == Semantics.SET) {
            int size = dt.byteSize();
            for (long i = 0; i < count; i++) {
                MemorySegment.copy(values, i * size, tensor, position(i) * size, size);
            }
        } else {
            for (long i = 0; i < count; i++) {
                long p = position(i);
                dt.setFloat(tensor, p, dt.getFloat(tensor, p) + values.getAtIndex(ADD_VALUE, i));
            }
        }
    }
}
