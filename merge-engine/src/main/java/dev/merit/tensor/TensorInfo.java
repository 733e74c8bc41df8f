package dev.merit.tensor;

import java.util.Arrays;
import java.util.Objects;

/**
 * A tensor's name, element type and shape: everything about it but its values.
 *
 * @param name  the tensor's name in its model, e.g. {@code "encoder.layer.0.weight"}
 * @param dtype element type
 * @param shape dimensions, outermost first; empty for a scalar
 */
public record TensorInfo(String name, DType dtype, long[] shape) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
            }
        }
    }

    public static TensorInfo of(String name, DType dtype, long... shape) {
        return new TensorInfo(name, dtype, shape);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    /** Number of elements; throws {@link ArithmeticException} if it does not fit a long. */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Size of the tensor's data in bytes. */
    public long byteSize() {
        return Math.multiplyExact(numel(), (long) dtype.byteSize());
    }

    public boolean sameLayout(TensorInfo other) {
        return dtype == other.dtype && Arrays.equals(shape, other.shape);
    }

    public String shapeString() {
        return Arrays.toString(shape);
    }

    public TensorInfo withName(String newName) {
        return new TensorInfo(newName, dtype, shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + shapeString();
    }
}
