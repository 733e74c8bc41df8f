package dev.merit.codec;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.delta.SparseTensorDelta;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.Test;

/**
 * Position bits, measured on the encoded bytes, stay within 15% of log2 C(n, k) for uniformly placed
 * positions, 0.01% to 50% density.
 */
class PositionBoundTest {

    @Test
    void riceStaysWithinFifteenPercentOfTheEntropyBound() {
        long n = 2_000_000;
        double[] densities = {0.0001, 0.0003, 0.001, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.38, 0.45, 0.5};
        StringBuilder report = new StringBuilder();
        try (Arena arena = Arena.ofShared()) {
            for (double p : densities) {
                long k = Math.round(p * n);
                SparseTensorDelta d = Deltas.add(Deltas.f32("t", n), k, Double.doubleToLongBits(p), 1, arena);
                EncodeResult r = DeltaCodec.encode(d, EncodeOptions.defaults().withZstd(false).withValues(ValueCoding.INT8), arena);
                EncodeStats s = r.stats();
                // Measured on the encoded bytes: the positions section as the decoder finds it (parsing checks
                // that the header's sections fill the encoding exactly).
                DeltaHeader h = DeltaCodec.inspect(r.encoded(), DecodeOptions.defaults());
                long storedBits = h.positions().storedBytes() * 8;
                assertTrue(storedBits >= s.positionBits() && storedBits < s.positionBits() + 8,
                        "stored " + storedBits + " bits, encoder counted " + s.positionBits());
                long framing = r.encoded().byteSize() - h.positions().storedBytes() - h.values().storedBytes();
                assertTrue(framing >= 0 && framing < 64 + r.encoded().byteSize() / 1000, "header and framing take " + framing + " bytes");
                double ratio = storedBits / s.positionBound();
                report.append(String.format("%.4f%%: %.4f%n", p * 100, ratio));
                assertTrue(ratio >= 1.0 && ratio <= 1.15, "density " + p + ": ratio " + ratio + "\n" + report);
            }
        }
    }
}
