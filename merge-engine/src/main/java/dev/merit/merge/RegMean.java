package dev.merit.merge;

import dev.merit.error.InvalidInputException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.IntStream;

/**
 * RegMean (Jin et al., "Dataless Knowledge Fusion by Merging Weights of Language Models") for one
 * linear layer with weight {@code [out, in]} (PyTorch's layout, {@code y = x W^T}): the merged
 * change is
 *
 * <pre>  D = (sum_i w_i d_i G_i') A^-1,   A = sum_i w_i G_i',   G_i' = alpha G_i + (1 - alpha) diag(G_i)</pre>
 *
 * which for full models {@code W_i = base + d_i} is the paper's {@code W^T = A^-1 sum_i w_i G_i' W_i^T}
 * (the weights that best reproduce every input's layer outputs on its own data). A is factored
 * once (Cholesky, in double); each row of the change is a sum of sparse-friendly row updates
 * (entries where the input did not change anything cost nothing) and two triangular solves.
 * Rows run in parallel; each row's arithmetic is fixed, so results do not depend on threads.
 * Memory: the inputs' G' ({@code n * in^2} floats), A ({@code in^2} doubles) and the change
 * itself off the heap.
 */
final class RegMean {

    private RegMean() {}

    /**
     * The merged change of tensor {@code o.c} as {@code numel} F32 values in {@code arena} (which
     * must be shared: workers write it).
     */
    static MemorySegment change(MergePlan plan, ForkJoinPool pool, OpenedTensor o, Arena arena) {
        TensorCtx c = o.c;
        int n = plan.n;
        long[] shape = c.ref.shape();
        int out = Math.toIntExact(shape[0]);
        int in = Math.toIntExact(shape[1]);
        double alpha = c.rule.params().alpha();
        float[][] g = new float[n][];
        double[] a = new double[in * in];
        for (int i = 0; i < n; i++) {
            if (c.w[i] == 0) {
                continue;
            }
            g[i] = new float[in * in];
            GramMatrix.addScaled(plan.inputs.get(i).gram(), c.name(), in, alpha, c.w[i], g[i]);
            for (int q = 0; q < a.length; q++) {
                a[q] += g[i][q];
            }
        }
        for (int k = 0; k < in; k++) {
            if (a[k * in + k] == 0) {
                // No input ever saw feature k (its row and column are 0 too, G being PSD): the
                // problem leaves column k free; a unit pivot gives it change 0.
                a[k * in + k] = 1;
            }
        }
        cholesky(a, in, c.name());
        MemorySegment result = arena.allocate((long) out * in * Float.BYTES, 64);
        int rowsPerBlock = Math.max(1, plan.blockSize / in);
        int blocks = (out + rowsPerBlock - 1) / rowsPerBlock;
        int parts = Math.min(plan.threads, blocks);
        pool.submit(() -> IntStream.range(0, parts).parallel().forEach(part -> {
            Block b = new Block(n, rowsPerBlock * in);
            double[] r = new double[in];
            for (int k = (int) ((long) part * blocks / parts); k < (int) ((long) (part + 1) * blocks / parts); k++) {
                int row0 = k * rowsPerBlock;
                int rows = Math.min(rowsPerBlock, out - row0);
                o.load(b, (long) row0 * in, rows * in, false);
                for (int q = 0; q < rows; q++) {
                    java.util.Arrays.fill(r, 0);
                    for (int i = 0; i < n; i++) {
                        if (g[i] == null) {
                            continue;
                        }
                        float[] d = b.d[i];
                        float[] gi = g[i];
                        for (int kk = 0; kk < in; kk++) {
                            float x = d[q * in + kk];
                            if (x == 0) {
                                continue;
                            }
                            int off = kk * in;
                            for (int j = 0; j < in; j++) {
                                r[j] += x * gi[off + j];
                            }
                        }
                    }
                    solve(a, in, r);
                    long base = ((long) (row0 + q) * in) * Float.BYTES;
                    for (int j = 0; j < in; j++) {
                        result.set(ValueLayout.JAVA_FLOAT, base + (long) j * Float.BYTES, (float) r[j]);
                    }
                }
            }
        })).join();
        return result;
    }

    /** In-place Cholesky factor {@code A = L L^T}; L in the lower triangle (row-major). */
    static void cholesky(double[] a, int m, String tensor) {
        for (int j = 0; j < m; j++) {
            double s = a[j * m + j];
            for (int k = 0; k < j; k++) {
                s -= a[j * m + k] * a[j * m + k];
            }
            if (!(s > 0)) {
                throw new InvalidInputException("tensor '" + tensor + "': the weighted sum of the Gram matrices is not"
                        + " positive definite (pivot " + j + " is " + s + "); check the Gram files and the weights");
            }
            double l = Math.sqrt(s);
            a[j * m + j] = l;
            for (int i = j + 1; i < m; i++) {
                double t = a[i * m + j];
                for (int k = 0; k < j; k++) {
                    t -= a[i * m + k] * a[j * m + k];
                }
                a[i * m + j] = t / l;
            }
        }
    }

    /** Solves {@code L L^T x = r} in place. */
    static void solve(double[] l, int m, double[] r) {
        for (int i = 0; i < m; i++) { // L y = r
            double s = r[i];
            int off = i * m;
            for (int k = 0; k < i; k++) {
                s -= l[off + k] * r[k];
            }
            r[i] = s / l[off + i];
        }
        for (int i = m - 1; i >= 0; i--) { // L^T x = y, by columns of L^T (rows of L)
            double x = r[i] / l[i * m + i];
            r[i] = x;
            int off = i * m;
            for (int k = 0; k < i; k++) {
                r[k] -= l[off + k] * x;
            }
        }
    }
}
