package dev.merit.merge;

import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * Reads the Gram matrix {@code G = X^T X / N} of a linear layer's inputs from a safetensors file
 * (the format {@code merit train --regmean} writes). The tensor has the name of the layer's weight
 * ({@code [out, in]}) and holds G as F32 or F16 (any floating-point dtype is read), either
 *
 * <ul>
 *   <li>packed: the upper triangle row by row, shape {@code [in * (in + 1) / 2]}, with the file's
 *       {@code __metadata__} entry {@value #FORMAT_KEY} = {@value #PACKED_UPPER}; or</li>
 *   <li>full: shape {@code [in, in]}.</li>
 * </ul>
 *
 * The metadata entry {@value #EXAMPLES_KEY} may give N; the merge does not need it.
 */
public final class GramMatrix {

    public static final String FORMAT_KEY = "merit.gram";
    public static final String PACKED_UPPER = "packed-upper";
    public static final String EXAMPLES_KEY = "merit.gram.examples";

    private GramMatrix() {}

    /** Entries of the packed upper triangle of an {@code in x in} matrix. */
    public static long packedSize(long in) {
        return in * (in + 1) / 2;
    }

    /** Index of entry (r, c), r <= c, in the packed upper triangle, row by row. */
    static long packedIndex(long in, long r, long c) {
        return r * in - r * (r - 1) / 2 + (c - r);
    }

    /** Whether {@code gram} has a matrix for {@code tensor}. */
    static boolean has(TensorSource gram, String tensor) {
        return gram != null && gram.info(tensor).isPresent();
    }

    /** Checks the Gram tensor for a weight of {@code in} input features; {@code who} names the file in messages. */
    static void check(String who, TensorSource gram, String tensor, long in) {
        TensorInfo t = gram.info(tensor).orElseThrow(() -> new InvalidInputException(who + ": no Gram matrix '" + tensor + "'"));
        if (!t.dtype().isFloatingPoint()) {
            throw new InvalidInputException(who + ": Gram matrix '" + tensor + "' is " + t.dtype() + ", must be F32 or F16");
        }
        long[] s = t.shape();
        boolean full = s.length == 2 && s[0] == in && s[1] == in;
        boolean packed = s.length == 1 && s[0] == packedSize(in);
        if (!full && !packed) {
            throw new InvalidInputException(who + ": Gram matrix '" + tensor + "' has shape " + t.shapeString()
                    + "; the layer has " + in + " inputs, so it must be [" + packedSize(in) + "] (packed upper triangle) or ["
                    + in + ", " + in + "]");
        }
        if (packed && !PACKED_UPPER.equals(gram.metadata().get(FORMAT_KEY)) && in > 1) {
            throw new InvalidInputException(who + ": Gram matrix '" + tensor + "' is packed ([" + packedSize(in)
                    + "]) but the file's metadata has no \"" + FORMAT_KEY + "\": \"" + PACKED_UPPER + "\"");
        }
    }

    /**
     * Adds {@code scale * G'} to the dense row-major {@code acc[in * in]}, with
     * {@code G' = alpha G + (1 - alpha) diag(G)}: off-diagonal entries scaled by alpha.
     */
    static void addScaled(TensorSource gram, String tensor, int in, double alpha, double scale, float[] acc) {
        TensorInfo t = gram.info(tensor).orElseThrow();
        MemorySegment data = gram.data(tensor);
        DType dt = t.dtype();
        boolean packed = t.shape().length == 1;
        for (int r = 0; r < in; r++) {
            for (int c = r; c < in; c++) {
                long idx = packed ? packedIndex(in, r, c) : (long) r * in + c;
                double g = dt.getDouble(data, idx);
                if (!Double.isFinite(g)) {
                    throw new InvalidInputException(gram.describe() + ": Gram matrix '" + tensor + "' entry (" + r + ", " + c
                            + ") is " + g);
                }
                double v = scale * (r == c ? g : alpha * g);
                acc[r * in + c] += (float) v;
                if (r != c) {
                    acc[c * in + r] += (float) v;
                }
            }
        }
    }

    /** The value of N recorded with the Gram matrices, if any. */
    public static Optional<Long> examples(TensorSource gram) {
        String v = gram.metadata().get(EXAMPLES_KEY);
        try {
            return v == null ? Optional.empty() : Optional.of(Long.parseLong(v.trim()));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }
}
