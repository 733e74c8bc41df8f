package dev.merit.codec;

import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Low-rank approximation of a dense change to a 2-D tensor by randomized SVD (Halko, Martinsson
 * and Tropp: a Gaussian sketch with 8 extra columns and two power iterations, then an exact SVD
 * of the small projected matrix by one-sided Jacobi). The dense change stays off-heap; only the
 * (rows + cols) x (rank + 8) sketches live on the heap.
 */
public final class LowRank {

    static final int OVERSAMPLE = 8;
    static final int POWER_ITERATIONS = 2;

    private LowRank() {}

    /**
     * Rank-{@code rank} factors {@code U V^T} approximating {@code denseChangeF32} (rows x cols
     * float32, row-major), deterministic for a given {@code seed}. Singular values are split
     * evenly between U and V (each column scaled by sqrt(sigma)) so both quantize alike.
     */
    public static LowRankDelta factorize(TensorInfo info, MemorySegment denseChangeF32, int rank, long seed, Arena arena) {
        if (info.rank() != 2) {
            throw new IllegalArgumentException("tensor '" + info.name() + "': low-rank deltas need a 2-D tensor, not " + info.shapeString());
        }
        int m = Math.toIntExact(info.dim(0)), n = Math.toIntExact(info.dim(1));
        if (rank < 1 || rank > Math.min(m, n)) {
            throw new IllegalArgumentException("tensor '" + info.name() + "': rank " + rank + " outside [1, " + Math.min(m, n) + "]");
        }
        if (denseChangeF32.byteSize() < (long) m * n * 4) {
            throw new IllegalArgumentException("tensor '" + info.name() + "': dense change smaller than " + info.shapeString() + " float32");
        }
        int l = Math.min(rank + OVERSAMPLE, Math.min(m, n));
        boolean par = Par.shareable(denseChangeF32);
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] omega = new double[n * l];
        for (int i = 0; i < omega.length; i++) {
            omega[i] = gaussian(rnd);
        }
        double[] y = times(denseChangeF32, m, n, omega, l, par);
        for (int it = 0; it < POWER_ITERATIONS; it++) {
            orthonormalize(y, m, l);
            double[] z = transposeTimes(denseChangeF32, m, n, y, l, par);
            orthonormalize(z, n, l);
            y = times(denseChangeF32, m, n, z, l, par);
        }
        orthonormalize(y, m, l);
        double[] bt = transposeTimes(denseChangeF32, m, n, y, l, par);
        double[] w = new double[l * l];
        for (int i = 0; i < l; i++) {
            w[i * l + i] = 1;
        }
        jacobi(bt, n, w, l);
        // Columns of bt are now sigma_j v_j and y W holds the left singular vectors.
        double[] sigma = new double[l];
        Integer[] order = new Integer[l];
        for (int j = 0; j < l; j++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += bt[i * l + j] * bt[i * l + j];
            }
            sigma[j] = Math.sqrt(s);
            order[j] = j;
        }
        Arrays.sort(order, (a, b) -> Double.compare(sigma[b], sigma[a]) != 0 ? Double.compare(sigma[b], sigma[a]) : Integer.compare(a, b));
        MemorySegment u = arena.allocate((long) m * rank * 4, 8), v = arena.allocate((long) n * rank * 4, 8);
        for (int c = 0; c < rank; c++) {
            int j = order[c];
            double s = sigma[j];
            double root = Math.sqrt(s);
            for (int i = 0; i < m; i++) {
                double uij = 0;
                for (int t = 0; t < l; t++) {
                    uij += y[i * l + t] * w[t * l + j];
                }
                u.setAtIndex(Values.F32, (long) i * rank + c, (float) (uij * root));
            }
            for (int i = 0; i < n; i++) {
                v.setAtIndex(Values.F32, (long) i * rank + c, s == 0 ? 0f : (float) (bt[i * l + j] / root));
            }
        }
        return new LowRankDelta(info, rank, u, v);
    }

    /**
     * Factorizes and encodes; the residual ({@link Residual.Dense}) is the dense change minus what
     * the receiver will reconstruct from the (possibly quantized) factors.
     */
    public static EncodeResult encode(TensorInfo info, MemorySegment denseChangeF32, int rank, long seed, EncodeOptions options, Arena arena) {
        try (Arena tmp = Arena.ofShared()) {
            LowRankDelta f = factorize(info, denseChangeF32, rank, seed, tmp);
            EncodeResult r = DeltaCodec.encodeLowRank(f, options, arena);
            LowRankDelta sent = ((DecodedDelta.LowRank) DeltaCodec.decode(r.encoded(), DecodeOptions.defaults().withMaxElements(Long.MAX_VALUE), tmp)).delta();
            long m = info.dim(0), n = info.dim(1);
            MemorySegment residual = arena.allocate(m * n * 4, 8);
            Par.ranges(m, Math.max(1, Par.GRAIN / n), Par.shareable(residual, denseChangeF32), (from, to) -> {
                for (long i = from; i < to; i++) {
                    for (long j = 0; j < n; j++) {
                        long p = i * n + j;
                        residual.setAtIndex(Values.F32, p, denseChangeF32.getAtIndex(Values.F32, p) - sent.get(i, j));
                    }
                }
            });
            return new EncodeResult(r.encoded(), r.stats(), new Residual.Dense(info, residual));
        }
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    /** A (m x n, off-heap float32) times X (n x l) -> m x l. */
    private static double[] times(MemorySegment a, int m, int n, double[] x, int l, boolean par) {
        double[] out = new double[m * l];
        IntStream rows = IntStream.range(0, m);
        (par ? rows.parallel() : rows).forEach(i -> {
            int o = i * l;
            long base = (long) i * n;
            for (int j = 0; j < n; j++) {
                double aij = a.getAtIndex(Values.F32, base + j);
                if (aij != 0) {
                    int xo = j * l;
                    for (int c = 0; c < l; c++) {
                        out[o + c] += aij * x[xo + c];
                    }
                }
            }
        });
        return out;
    }

    /** A^T (n x m) times Y (m x l) -> n x l, summing per-slice partial products. */
    private static double[] transposeTimes(MemorySegment a, int m, int n, double[] y, int l, boolean par) {
        int slices = par ? Math.max(1, Math.min(m, Runtime.getRuntime().availableProcessors())) : 1;
        double[][] parts = new double[slices][];
        IntStream s = IntStream.range(0, slices);
        (par ? s.parallel() : s).forEach(t -> {
            double[] out = new double[n * l];
            int from = (int) ((long) m * t / slices), to = (int) ((long) m * (t + 1) / slices);
            for (int i = from; i < to; i++) {
                long base = (long) i * n;
                int yo = i * l;
                for (int j = 0; j < n; j++) {
                    double aij = a.getAtIndex(Values.F32, base + j);
                    if (aij != 0) {
                        int o = j * l;
                        for (int c = 0; c < l; c++) {
                            out[o + c] += aij * y[yo + c];
                        }
                    }
                }
            }
            parts[t] = out;
        });
        double[] sum = parts[0];
        for (int t = 1; t < slices; t++) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += parts[t][i];
            }
        }
        return sum;
    }

    /** Modified Gram-Schmidt, twice for accuracy; columns that vanish become zero. */
    static void orthonormalize(double[] q, int rows, int cols) {
        for (int pass = 0; pass < 2; pass++) {
            for (int j = 0; j < cols; j++) {
                for (int k = 0; k < j; k++) {
                    double dot = 0;
                    for (int i = 0; i < rows; i++) {
                        dot += q[i * cols + j] * q[i * cols + k];
                    }
                    for (int i = 0; i < rows; i++) {
                        q[i * cols + j] -= dot * q[i * cols + k];
                    }
                }
                double norm = 0;
                for (int i = 0; i < rows; i++) {
                    norm += q[i * cols + j] * q[i * cols + j];
                }
                norm = Math.sqrt(norm);
                double inv = norm > 1e-300 ? 1 / norm : 0;
                for (int i = 0; i < rows; i++) {
                    q[i * cols + j] *= inv;
                }
            }
        }
    }

    /** One-sided Jacobi: rotates columns of b (rows x l) until orthogonal, applying the same rotations to w. */
    private static void jacobi(double[] b, int rows, double[] w, int l) {
        for (int sweep = 0; sweep < 60; sweep++) {
            boolean rotated = false;
            for (int p = 0; p < l - 1; p++) {
                for (int q = p + 1; q < l; q++) {
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int i = 0; i < rows; i++) {
                        double x = b[i * l + p], y = b[i * l + q];
                        alpha += x * x;
                        beta += y * y;
                        gamma += x * y;
                    }
                    if (gamma == 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) {
                        continue;
                    }
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.signum(zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    if (zeta == 0) {
                        t = 1;
                    }
                    double c = 1 / Math.sqrt(1 + t * t), s = c * t;
                    rotate(b, rows, l, p, q, c, s);
                    rotate(w, l, l, p, q, c, s);
                }
            }
            if (!rotated) {
                return;
            }
        }
    }

    private static void rotate(double[] a, int rows, int l, int p, int q, double c, double s) {
        for (int i = 0; i < rows; i++) {
            double x = a[i * l + p], y = a[i * l + q];
            a[i * l + p] = c * x - s * y;
            a[i * l + q] = s * x + c * y;
        }
    }
}
