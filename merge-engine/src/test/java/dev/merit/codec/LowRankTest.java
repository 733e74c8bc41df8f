package dev.merit.codec;

import static org.junit.jupiter.api.Assertions.*;

import dev.merit.tensor.TensorInfo;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LowRankTest {

    /** A rows x cols matrix sum_k s_k a_k b_k^T with random a, b and s_k = 2^-k, plus small noise. */
    private static MemorySegment matrix(int rows, int cols, int terms, double noise, long seed, Arena arena) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[] m = new double[rows * cols];
        for (int t = 0; t < terms; t++) {
            double s = Math.pow(2, -t);
            double[] a = new double[rows], b = new double[cols];
            for (int i = 0; i < rows; i++) {
                a[i] = Deltas.gaussian(rnd);
            }
            for (int j = 0; j < cols; j++) {
                b[j] = Deltas.gaussian(rnd);
            }
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    m[i * cols + j] += s * a[i] * b[j];
                }
            }
        }
        MemorySegment seg = arena.allocate((long) rows * cols * 4, 8);
        for (int p = 0; p < m.length; p++) {
            seg.setAtIndex(Values.F32, p, (float) (m[p] + noise * Deltas.gaussian(rnd)));
        }
        return seg;
    }

    private static double frobenius(MemorySegment a, long n) {
        double s = 0;
        for (long i = 0; i < n; i++) {
            double v = a.getAtIndex(Values.F32, i);
            s += v * v;
        }
        return Math.sqrt(s);
    }

    @Test
    void exactlyLowRankMatricesAreRecoveredAndRoundTripThroughTheCodec() {
        try (Arena arena = Arena.ofShared()) {
            TensorInfo info = Deltas.f32("attn.q", 120, 80);
            MemorySegment a = matrix(120, 80, 4, 0, 1, arena);
            EncodeResult r = LowRank.encode(info, a, 4, 7, EncodeOptions.defaults(), arena);
            assertEquals(DeltaHeader.Form.LOW_RANK, r.header().form());
            assertEquals(4, r.header().rank());
            MemorySegment residual = assertInstanceOf(Residual.Dense.class, r.residual()).valuesF32();
            assertTrue(frobenius(residual, 9600) < 1e-4 * frobenius(a, 9600), "residual " + frobenius(residual, 9600));
            // Decoded factors reproduce the matrix; applying to a zero tensor gives a - residual exactly as the encoder saw it.
            DecodedDelta d = DeltaCodec.decode(r.encoded(), DecodeOptions.defaults().expecting(info), arena);
            MemorySegment zero = arena.allocate(9600 * 4);
            d.applyInPlace(zero);
            for (long p = 0; p < 9600; p++) {
                assertEquals(a.getAtIndex(Values.F32, p) - residual.getAtIndex(Values.F32, p), zero.getAtIndex(Values.F32, p), 1e-6f);
            }
            assertEquals(-1, r.encoded().mismatch(LowRank.encode(info, a, 4, 7, EncodeOptions.defaults(), arena).encoded()), "deterministic for a seed");
            var sparse = d.toSparse(arena);
            assertEquals(9600, sparse.count());
        }
    }

    @Test
    void errorIsCloseToTheOptimalTruncatedSvdComputedByNumpy(@TempDir Path dir) throws Exception {
        int rows = 200, cols = 150, rank = 8;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = matrix(rows, cols, 20, 0.01, 3, arena);
            Path file = dir.resolve("a.f32");
            Files.write(file, a.toArray(ValueLayout.JAVA_BYTE));
            double optimal = numpyOptimalError(dir, rows, cols, rank, file);
            // int8 with one scale per factor row (block = rank); larger blocks mix columns of different scale
            for (ValueCoding v : new ValueCoding[] {ValueCoding.EXACT, ValueCoding.FP16, ValueCoding.INT8}) {
                TensorInfo info = Deltas.f32("mlp", rows, cols);
                EncodeResult r = LowRank.encode(info, a, rank, 11, EncodeOptions.defaults().withValues(v).withInt8BlockSize(rank), arena);
                // The error of what a reader gets: decode(encode(a)) applied to zeros, against a.
                MemorySegment decoded = arena.allocate((long) rows * cols * 4, 8);
                DeltaCodec.decode(r.encoded(), DecodeOptions.defaults().expecting(info), arena).applyInPlace(decoded);
                double err = 0;
                for (long p = 0; p < (long) rows * cols; p++) {
                    double diff = (double) a.getAtIndex(Values.F32, p) - decoded.getAtIndex(Values.F32, p);
                    err += diff * diff;
                }
                err = Math.sqrt(err);
                double residual = frobenius(((Residual.Dense) r.residual()).valuesF32(), (long) rows * cols);
                assertEquals(residual, err, 1e-4 * err, v + ": the encoder's residual must be what decoding loses");
                double slack = v == ValueCoding.EXACT ? 1.02 : v == ValueCoding.FP16 ? 1.03 : 1.25;
                assertTrue(err <= optimal * slack, v + ": error " + err + " vs optimal " + optimal);
                assertTrue(err >= optimal * 0.999, v + ": error " + err + " below the optimum " + optimal + "?");
            }
        }
    }

    private static double numpyOptimalError(Path dir, int rows, int cols, int rank, Path file) throws Exception {
        Path script = dir.resolve("svd_error.py");
        try (InputStream in = LowRankTest.class.getResourceAsStream("svd_error.py")) {
            Files.write(script, in.readAllBytes());
        }
        Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), "" + rows, "" + cols, "" + rank, file.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor(), "python3 failed: " + out);
        return Double.parseDouble(out);
    }

    @Test
    void rejectsWhatItCannotFactorize() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = arena.allocate(4 * 60);
            assertThrows(IllegalArgumentException.class, () -> LowRank.factorize(Deltas.f32("v", 60), a, 1, 1, arena));
            assertThrows(IllegalArgumentException.class, () -> LowRank.factorize(Deltas.f32("m", 6, 10), a, 7, 1, arena));
        }
    }
}
