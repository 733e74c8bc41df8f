package dev.merit.codec;

import dev.merit.codec.CorruptDeltaException.Reason;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.error.InvalidInputException;
import java.lang.foreign.MemorySegment;

/**
 * Position codings. Rice codes on gaps cost within a few percent of log2 C(n, k) for uniformly
 * spread positions at any density up to 1/2 (expected worst case ~4%, near k/n = 0.38); above
 * 1/2 the complement is coded instead. There is no bitmap coding: Rice with parameter 0 on the
 * gaps is bit for bit a bitmap cut after the last position, so it is never larger.
 */
final class Positions {

    static final int MAX_RICE = 62;

    private Positions() {}

    /** The chosen coding and its exact size. */
    record Plan(PositionCoding coding, int param, long bits) {
        long rawBytes() {
            return (bits + 7) >>> 3;
        }
    }

    private interface Gaps {
        void gap(long x);

        /** {@code count} gaps of 0 (runs of consecutive positions). */
        void zeros(long count);
    }

    /** Checks that the delta's positions are strictly ascending and inside the tensor. */
    static void validate(SparseTensorDelta d) {
        long n = d.info().numel();
        long prev = -1;
        for (long i = 0; i < d.count(); i++) {
            long p = d.position(i);
            if (p <= prev || p >= n) {
                throw new InvalidInputException("tensor '" + d.info().name() + "': position " + p + " at entry " + i
                        + (p >= n || p < 0 ? " outside [0, " + n + ")" : " not above the previous " + prev));
            }
            prev = p;
        }
    }

    static Plan plan(SparseTensorDelta d) {
        long n = d.info().numel(), k = d.count();
        if (k == 0) {
            return new Plan(PositionCoding.EMPTY, 0, 0);
        }
        if (k == n) {
            return new Plan(PositionCoding.ALL, 0, 0);
        }
        Plan best = bestRice(PositionCoding.RICE, k, g -> directGaps(d, g));
        Plan complement = bestRice(PositionCoding.RICE_COMPLEMENT, n - k, g -> complementGaps(d, g));
        if (complement.bits < best.bits) {
            best = complement;
        }
        return best;
    }

    private static Plan bestRice(PositionCoding coding, long m, java.util.function.Consumer<Gaps> source) {
        long[] sum = {0};
        source.accept(new Gaps() {
            public void gap(long x) {
                sum[0] += x;
            }

            public void zeros(long count) {}
        });
        double mean = (double) sum[0] / m;
        int center = mean < 1 ? 0 : 63 - Long.numberOfLeadingZeros((long) mean);
        int lo = Math.max(0, center - 3), hi = Math.min(MAX_RICE, center + 2);
        long[] s = new long[hi - lo + 1];
        source.accept(new Gaps() {
            public void gap(long x) {
                for (int j = 0; j < s.length; j++) {
                    s[j] += x >>> (lo + j);
                }
            }

            public void zeros(long count) {}
        });
        Plan best = null;
        for (int j = 0; j < s.length; j++) {
            long bits = m * (lo + j + 1) + s[j];
            if (best == null || bits < best.bits) {
                best = new Plan(coding, lo + j, bits);
            }
        }
        return best;
    }

    private static void directGaps(SparseTensorDelta d, Gaps g) {
        long prev = -1;
        for (long i = 0; i < d.count(); i++) {
            long p = d.position(i);
            g.gap(p - prev - 1);
            prev = p;
        }
    }

    private static void complementGaps(SparseTensorDelta d, Gaps g) {
        long n = d.info().numel();
        long prevC = -1, c = 0;
        for (long i = 0; i <= d.count(); i++) {
            long p = i < d.count() ? d.position(i) : n;
            if (c < p) {
                g.gap(c - prevC - 1);
                g.zeros(p - 1 - c);
                prevC = p - 1;
            }
            c = p + 1;
        }
    }

    static void write(Plan plan, SparseTensorDelta d, MemorySegment out) {
        switch (plan.coding) {
            case RICE, RICE_COMPLEMENT -> {
                Bits.Writer w = new Bits.Writer(out);
                int b = plan.param;
                Gaps sink = new Gaps() {
                    public void gap(long x) {
                        w.rice(x, b);
                    }

                    public void zeros(long count) {
                        for (long i = 0; i < count; i++) {
                            w.write(1, b + 1);
                        }
                    }
                };
                if (plan.coding == PositionCoding.RICE) {
                    directGaps(d, sink);
                } else {
                    complementGaps(d, sink);
                }
                long written = w.finish();
                assert written == plan.rawBytes();
            }
            default -> {
                // nothing stored
            }
        }
    }

    /** Largest raw size a Rice stream of m codes with parameter b over n entries can have. */
    static long riceMaxBytes(long m, int b, long n) {
        return (m * (b + 1) + (n >>> b) + 7) >>> 3;
    }

    /** Smallest raw size of m Rice codes with parameter b. */
    static long riceMinBytes(long m, int b) {
        return (m * (b + 1) + 7) >>> 3;
    }

    /** Decodes {@code count} positions of an n-entry tensor into {@code out}; validates everything. */
    static void read(PositionCoding coding, int b, MemorySegment raw, long n, long count, MemorySegment out, String what) {
        switch (coding) {
            case EMPTY -> {}
            case ALL -> {
                for (long i = 0; i < n; i++) {
                    out.setAtIndex(SparseTensorDelta.POSITION, i, i);
                }
            }
            case RICE -> {
                Bits.Reader r = new Bits.Reader(raw, what);
                long prev = -1;
                for (long i = 0; i < count; i++) {
                    long p = prev + 1 + r.rice(b, (n - 1 - prev) >>> b);
                    if (p >= n) {
                        throw new CorruptDeltaException(Reason.BAD_POSITIONS, what + ": position " + p + " of entry " + i + " outside [0, " + n + ")");
                    }
                    out.setAtIndex(SparseTensorDelta.POSITION, i, p);
                    prev = p;
                }
                r.expectEnd();
            }
            case RICE_COMPLEMENT -> {
                Bits.Reader r = new Bits.Reader(raw, what);
                long m = n - count, prevC = -1, k = 0;
                for (long j = 0; j <= m; j++) {
                    long c;
                    if (j < m) {
                        c = prevC + 1 + r.rice(b, (n - 1 - prevC) >>> b);
                        // the m - j - 1 unchanged positions still to come need room after c
                        if (c >= n - (m - j - 1)) {
                            throw new CorruptDeltaException(Reason.BAD_POSITIONS, what + ": unchanged position " + c + " outside [0, " + n + ")");
                        }
                    } else {
                        c = n;
                    }
                    for (long p = prevC + 1; p < c; p++) {
                        out.setAtIndex(SparseTensorDelta.POSITION, k++, p);
                    }
                    prevC = c;
                }
                r.expectEnd();
            }
            case FIXED_MASK -> throw new IllegalStateException("fixed-mask positions come from the mask");
        }
    }
}
