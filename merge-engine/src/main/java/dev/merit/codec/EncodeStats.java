package dev.merit.codec;

/**
 * Sizes of one encoding, for reports and {@code merit show --json}.
 *
 * @param header         the encoding's header (codings chosen, section sizes)
 * @param positionBits   bits the positions cost: exact code length if stored raw, stored bytes * 8 if compressed
 * @param valueBits      bits the values section costs as stored
 * @param totalBytes     size of the whole encoding, framing and header included
 * @param positionBound  log2 C(numel, count): the least any lossless position coding can spend
 */
public record EncodeStats(DeltaHeader header, long positionBits, long valueBits, long totalBytes, double positionBound) {

    /** Position bits over the entropy bound (1.0 is optimal); NaN when the bound is 0 (no choice to encode). */
    public double positionRatio() {
        return positionBound == 0 ? Double.NaN : positionBits / positionBound;
    }

    /** How many times smaller than sending the tensor as dense float32. */
    public double ratioVsDenseF32() {
        return header.info().numel() * 4.0 / totalBytes;
    }

    /** log2 of the binomial coefficient C(n, k), via log-gamma (relative error ~1e-12). */
    public static double log2Binomial(long n, long k) {
        if (k < 0 || k > n) {
            throw new IllegalArgumentException("k " + k + " outside [0, " + n + "]");
        }
        return (lnFactorial(n) - lnFactorial(k) - lnFactorial(n - k)) / Math.log(2);
    }

    private static double lnFactorial(long n) {
        if (n < 16) {
            double s = 0;
            for (int i = 2; i <= n; i++) {
                s += Math.log(i);
            }
            return s;
        }
        double x = n + 1.0;
        // Stirling series for ln Gamma(x); four correction terms are plenty for x >= 17.
        double inv = 1 / x, inv2 = inv * inv;
        return (x - 0.5) * Math.log(x) - x + 0.5 * Math.log(2 * Math.PI)
                + inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 / 1680)));
    }
}
