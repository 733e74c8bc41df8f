package dev.merit.codec;

import dev.merit.codec.CorruptDeltaException.Reason;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** LSB-first bit streams over memory segments, with Golomb-Rice codes (q zeros, a one, then b low bits). */
final class Bits {

    static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Bits() {}

    static final class Writer {
        private final MemorySegment out;
        private long at;
        private long acc;
        private int n;

        Writer(MemorySegment out) {
            this.out = out;
        }

        /** Appends the low {@code w} bits of {@code v} (0 <= w <= 64; higher bits of v must be 0). */
        void write(long v, int w) {
            if (w == 0) {
                return;
            }
            acc |= v << n;
            if (n + w >= 64) {
                out.set(LE_LONG, at, acc);
                at += 8;
                int used = 64 - n;
                acc = used == 64 ? 0 : v >>> used;
                n = n + w - 64;
            } else {
                n += w;
            }
        }

        void zeros(long count) {
            while (count > 0) {
                int w = (int) Math.min(count, 64);
                write(0, w);
                count -= w;
            }
        }

        void rice(long x, int b) {
            long q = x >>> b;
            if (q + 1 + b <= 64) {
                long low = b == 0 ? 0 : (x & ((1L << b) - 1));
                write((low << (q + 1)) | (1L << q), (int) (q + 1 + b));
            } else {
                zeros(q);
                write(1, 1);
                write(b == 0 ? 0 : x & ((1L << b) - 1), b);
            }
        }

        /** Flushes the last partial word; returns the number of bytes written. */
        long finish() {
            int bytes = (n + 7) >>> 3;
            for (int i = 0; i < bytes; i++) {
                out.set(ValueLayout.JAVA_BYTE, at + i, (byte) (acc >>> (8 * i)));
            }
            return at + bytes;
        }
    }

    static final class Reader {
        private final MemorySegment in;
        private final long len;
        private final String what;
        private long next;
        private long buf;
        private int avail;

        Reader(MemorySegment in, String what) {
            this.in = in;
            this.len = in.byteSize();
            this.what = what;
        }

        // Bits of buf above `avail` are either zero or the true next bits, so OR-ing in a
        // full word that overlaps them is harmless; this keeps refills branch-light.
        private void refill() {
            if (avail > 56) {
                return;
            }
            if (next + 8 <= len) {
                long w = in.get(LE_LONG, next);
                int take = (64 - avail) >>> 3;
                buf |= w << avail;
                next += take;
                avail += take << 3;
            } else {
                while (avail <= 56 && next < len) {
                    buf |= (in.get(ValueLayout.JAVA_BYTE, next) & 0xffL) << avail;
                    next++;
                    avail += 8;
                }
            }
        }

        private void consume(int k) {
            buf = k == 64 ? 0 : buf >>> k;
            avail -= k;
        }

        /** Reads one Rice code with parameter b whose quotient may not exceed {@code maxQ}. */
        long rice(int b, long maxQ) {
            long q = 0;
            while (true) {
                refill();
                if (avail == 0) {
                    throw new CorruptDeltaException(Reason.TRUNCATED, what + ": position stream ends inside a code");
                }
                long live = avail == 64 ? buf : buf & ((1L << avail) - 1);
                if (live != 0) {
                    int tz = Long.numberOfTrailingZeros(live);
                    q += tz;
                    consume(tz + 1);
                    break;
                }
                q += avail;
                consume(avail);
                if (q > maxQ) {
                    break;
                }
            }
            if (q > maxQ) {
                throw new CorruptDeltaException(Reason.BAD_POSITIONS, what + ": gap past the end of the tensor");
            }
            if (b == 0) {
                return q;
            }
            refill();
            if (avail < b) {
                throw new CorruptDeltaException(Reason.TRUNCATED, what + ": position stream ends inside a code");
            }
            long r = buf & ((1L << b) - 1);
            consume(b);
            return (q << b) | r;
        }

        /** Checks that only zero padding (less than a byte) remains. */
        void expectEnd() {
            refill();
            if (next != len || avail >= 8 || (avail > 0 && (buf & ((1L << avail) - 1)) != 0)) {
                throw new CorruptDeltaException(Reason.TRAILING_DATA, what + ": bytes left after the last position");
            }
        }
    }
}
