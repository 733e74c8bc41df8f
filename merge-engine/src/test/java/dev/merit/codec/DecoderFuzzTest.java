package dev.merit.codec;

import static org.junit.jupiter.api.Assertions.*;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Seeded mutation fuzzing of the decoder: valid encodings of every kind are bit-flipped,
 * overwritten, truncated, extended and spliced, half of them re-framed with fresh checksums so the
 * mutations reach the header and section parsers rather than stopping at the CRC. Every input
 * must either decode to a well-formed delta or fail with {@link CorruptDeltaException}; anything
 * else (another exception, an error, a hang) fails the test with the iteration to replay.
 * Iterations: system property {@code merit.fuzz.iterations} (default 100,000).
 */
class DecoderFuzzTest {

    private static final long SEED = 0x5eed_c0dec_0001L;
    private static final long SLOW_NANOS = TimeUnit.SECONDS.toNanos(5);

    private record Case(byte[] framed, byte[] logical) {}

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void mutatedEncodingsNeverCrashHangOrExhaustMemory() {
        int iterations = Integer.getInteger("merit.fuzz.iterations", 100_000);
        try (Arena corpusArena = Arena.ofShared()) {
            List<Case> corpus = new ArrayList<>();
            Mask[] mask = new Mask[1];
            build(corpusArena, corpus, mask);
            byte[] maskDigest = mask[0].digest();
            DecodeOptions options = new DecodeOptions(1 << 20, null, d -> Arrays.equals(d, maskDigest) ? mask[0] : null);
            SplittableRandom rnd = new SplittableRandom(SEED);
            int decoded = 0;
            int[] reasons = new int[CorruptDeltaException.Reason.values().length];
            for (int it = 0; it < iterations; it++) {
                Case c = corpus.get(rnd.nextInt(corpus.size()));
                boolean reseal = rnd.nextBoolean();
                byte[] input;
                if (reseal) {
                    byte[] logical = mutate(c.logical, rnd);
                    input = logical.length == 0 ? logical : frame(logical, 64 + rnd.nextInt(400));
                } else {
                    input = mutate(c.framed, rnd);
                }
                boolean viaReader = rnd.nextInt(20) == 0;
                long start = System.nanoTime();
                try (Arena arena = Arena.ofConfined()) {
                    DecodedDelta d = viaReader ? readInPieces(input, options, rnd, arena) : DeltaCodec.decode(MemorySegment.ofArray(input), options, arena);
                    checkWellFormed(d);
                    decoded++;
                } catch (CorruptDeltaException e) {
                    reasons[e.reason().ordinal()]++;
                    assertNotNull(e.getMessage());
                } catch (Throwable t) {
                    fail("iteration " + it + " (seed " + SEED + ", reseal " + reseal + "): " + t, t);
                }
                long took = System.nanoTime() - start;
                if (took > SLOW_NANOS) {
                    fail("iteration " + it + " took " + took / 1_000_000 + " ms on a " + input.length + "-byte input");
                }
            }
            System.out.println("fuzz: " + iterations + " inputs, " + decoded + " decoded, rejections by reason " + Arrays.toString(reasons));
            assertTrue(decoded > 0 && decoded < iterations, "mutations should both pass and fail");
            assertTrue(reasons[CorruptDeltaException.Reason.BAD_CHUNK.ordinal()] > 0);
            assertTrue(reasons[CorruptDeltaException.Reason.BAD_HEADER.ordinal()] > 0);
            assertTrue(reasons[CorruptDeltaException.Reason.TRUNCATED.ordinal()] > 0);
        }
    }

    private static DecodedDelta readInPieces(byte[] input, DecodeOptions options, SplittableRandom rnd, Arena arena) {
        try (DeltaChunkReader in = new DeltaChunkReader(options)) {
            int at = 0;
            while (at < input.length) {
                int n = Math.min(input.length - at, 1 + rnd.nextInt(300));
                in.accept(MemorySegment.ofArray(Arrays.copyOfRange(input, at, at + n)));
                at += n;
            }
            return in.decode(arena);
        }
    }

    static void checkWellFormed(DecodedDelta d) {
        if (d instanceof DecodedDelta.Sparse s) {
            SparseTensorDelta delta = s.delta();
            long n = delta.info().numel(), prev = -1;
            assertTrue(delta.count() <= n);
            for (long i = 0; i < delta.count(); i++) {
                long p = delta.position(i);
                assertTrue(p > prev && p < n, "decoded position " + p + " after " + prev + " in " + n);
                prev = p;
            }
        } else if (d instanceof DecodedDelta.LowRank l) {
            assertEquals(2, l.delta().info().rank());
        }
    }

    private static void build(Arena arena, List<Case> corpus, Mask[] mask) {
        TensorInfo small = Deltas.f32("blk.0.w", 40, 50);
        List<EncodeResult> results = new ArrayList<>();
        for (long k : new long[] {0, 5, 300, 1200, 1999, 2000}) {
            for (ValueCoding v : ValueCoding.values()) {
                SparseTensorDelta d = Deltas.add(small, k, k + v.ordinal(), 0.1, arena);
                results.add(DeltaCodec.encode(d, EncodeOptions.defaults().withValues(v).withInt8BlockSize(64).withChunkBytes(128), arena));
            }
        }
        for (DType t : new DType[] {DType.BF16, DType.I64, DType.BOOL, DType.U8}) {
            SparseTensorDelta d = Deltas.set(TensorInfo.of("set." + t, t, 7, 9, 11), 150, t.ordinal(), arena);
            results.add(DeltaCodec.encode(d, EncodeOptions.defaults().withChunkBytes(200), arena));
        }
        // zstd-friendly values (repeated) so compressed sections are in the corpus.
        SparseTensorDelta rep = Deltas.add(small, 800, 3, 0, arena);
        results.add(DeltaCodec.encode(rep, EncodeOptions.defaults().withChunkBytes(96), arena));
        SparseTensorDelta masked = Deltas.add(small, 100, 4, 1, arena);
        mask[0] = Mask.of(masked);
        results.add(DeltaCodec.encode(masked, EncodeOptions.defaults().withFixedMask(mask[0]).withValues(ValueCoding.FP16), arena));
        MemorySegment dense = arena.allocate(30 * 20 * 4);
        SplittableRandom r = new SplittableRandom(8);
        for (int i = 0; i < 600; i++) {
            dense.setAtIndex(Values.F32, i, (float) r.nextGaussian());
        }
        results.add(LowRank.encode(Deltas.f32("lr", 30, 20), dense, 3, 1, EncodeOptions.defaults().withValues(ValueCoding.INT8).withInt8BlockSize(16), arena));
        results.add(LowRank.encode(Deltas.f32("lr", 30, 20), dense, 2, 1, EncodeOptions.defaults().withChunkBytes(100), arena));
        boolean zstdSeen = false;
        for (EncodeResult e : results) {
            byte[] framed = e.encoded().toArray(ValueLayout.JAVA_BYTE);
            MemorySegment seg = MemorySegment.ofArray(framed);
            byte[] logical = new byte[(int) Frames.scan(seg)];
            Frames.unframe(seg, MemorySegment.ofArray(logical));
            corpus.add(new Case(framed, logical));
            zstdSeen |= e.header().values().compression() == DeltaHeader.Compression.ZSTD;
        }
        assertTrue(zstdSeen, "corpus should hold a zstd section");
    }

    static byte[] frame(byte[] logical, int chunk) {
        MemorySegment out = MemorySegment.ofArray(new byte[(int) Frames.framedSize(logical.length, chunk)]);
        Frames.frame(MemorySegment.ofArray(logical), chunk, out);
        return out.toArray(ValueLayout.JAVA_BYTE);
    }

    static byte[] mutate(byte[] in, SplittableRandom rnd) {
        byte[] b = in.clone();
        int rounds = 1 + (rnd.nextInt(4) == 0 ? rnd.nextInt(8) : 0);
        for (int r = 0; r < rounds && b.length > 0; r++) {
            // Most of the structure sits in the first ~60 bytes: aim there half the time.
            int at = rnd.nextBoolean() ? rnd.nextInt(Math.min(b.length, 64)) : rnd.nextInt(b.length);
            switch (rnd.nextInt(9)) {
                case 0, 1 -> b[at] ^= (byte) (1 << rnd.nextInt(8));
                case 2 -> b[at] = (byte) rnd.nextInt(256);
                case 3 -> b[at] = (byte) (rnd.nextBoolean() ? 0xff : 0x00);
                case 4 -> b = Arrays.copyOf(b, rnd.nextInt(b.length));
                case 5 -> b = splice(b, at, randomBytes(rnd, 1 + rnd.nextInt(16)), 0);
                case 6 -> b = splice(b, at, new byte[0], Math.min(b.length - at, 1 + rnd.nextInt(16)));
                case 7 -> { // overwrite with a big varint (counts, lengths, dimensions)
                    long v = rnd.nextBoolean() ? rnd.nextLong() >>> rnd.nextInt(64) : rnd.nextInt(1 << 16);
                    ByteArrayOutputStream o = new ByteArrayOutputStream();
                    do {
                        o.write((int) (v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
                        v >>>= 7;
                    } while (v != 0);
                    byte[] vb = o.toByteArray();
                    b = splice(b, at, vb, Math.min(b.length - at, rnd.nextInt(vb.length + 1)));
                }
                default -> { // duplicate a range (repeated chunks, repeated fields)
                    int len = Math.min(b.length - at, 1 + rnd.nextInt(200));
                    b = splice(b, at, Arrays.copyOfRange(b, at, at + len), 0);
                }
            }
        }
        return b;
    }

    private static byte[] randomBytes(SplittableRandom rnd, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) rnd.nextInt(256);
        }
        return b;
    }

    private static byte[] splice(byte[] b, int at, byte[] insert, int remove) {
        byte[] out = new byte[b.length - remove + insert.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(b, at + remove, out, at + insert.length, b.length - at - remove);
        return out;
    }
}
