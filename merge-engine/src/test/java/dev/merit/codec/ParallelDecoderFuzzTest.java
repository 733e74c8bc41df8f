package dev.merit.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Mutation fuzzing of the parallel decoder: encodings large enough that decoding runs its value
 * loops on the common pool ({@code Par}: shared scratch and output, more than one grain of
 * entries) are mutated as in {@link DecoderFuzzTest}, then decoded twice, into a shared arena
 * (parallel) and into a confined one (on the calling thread). Both must agree: the same
 * positions and value bytes, or a {@link CorruptDeltaException} with the same reason; anything
 * else fails with the iteration to replay. Iterations: {@code merit.fuzz.parallel.iterations}
 * (default 150).
 */
class ParallelDecoderFuzzTest {

    private static final long SEED = 0x5eed_9a7a_11e1L;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void parallelAndSequentialDecodingAgreeOnMutatedInputs() {
        int iterations = Integer.getInteger("merit.fuzz.parallel.iterations", 150);
        List<byte[]> corpus = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            TensorInfo big = Deltas.f32("big", 1000, 1000);
            long k = 4 * Par.GRAIN;
            for (ValueCoding v : ValueCoding.values()) {
                SparseTensorDelta d = Deltas.add(big, k, 40 + v.ordinal(), 0.05, arena);
                EncodeResult r = DeltaCodec.encode(d, EncodeOptions.defaults().withValues(v).withZstd(false).withChunkBytes(1 << 16), arena);
                assertTrue(r.encoded().byteSize() >= 4 * Par.GRAIN, "large enough for a shared scratch arena");
                corpus.add(r.encoded().toArray(ValueLayout.JAVA_BYTE));
            }
            SparseTensorDelta set = Deltas.set(TensorInfo.of("set", DType.BF16, 700, 700), 2 * Par.GRAIN + 5, 7, arena);
            corpus.add(DeltaCodec.encode(set, EncodeOptions.defaults().withZstd(false), arena).encoded().toArray(ValueLayout.JAVA_BYTE));
        }
        SplittableRandom rnd = new SplittableRandom(SEED);
        int decoded = 0;
        int rejected = 0;
        for (int it = 0; it < iterations; it++) {
            byte[] c = corpus.get(rnd.nextInt(corpus.size()));
            byte[] input;
            if (rnd.nextBoolean()) { // re-framed with fresh checksums, so mutations reach sections
                MemorySegment seg = MemorySegment.ofArray(c);
                byte[] logical = new byte[(int) Frames.scan(seg)];
                Frames.unframe(seg, MemorySegment.ofArray(logical));
                byte[] m = DecoderFuzzTest.mutate(logical, rnd);
                input = m.length == 0 ? m : DecoderFuzzTest.frame(m, 1 << 16);
            } else {
                input = DecoderFuzzTest.mutate(c, rnd);
            }
            Outcome parallel = decode(input, Arena.ofShared());
            Outcome sequential = decode(input, Arena.ofConfined());
            if (parallel.failure != null && !(parallel.failure instanceof CorruptDeltaException)) {
                fail("iteration " + it + " (seed " + SEED + "): parallel decode threw " + parallel.failure, parallel.failure);
            }
            if (sequential.failure != null && !(sequential.failure instanceof CorruptDeltaException)) {
                fail("iteration " + it + " (seed " + SEED + "): sequential decode threw " + sequential.failure, sequential.failure);
            }
            if (parallel.failure != null || sequential.failure != null) {
                assertTrue(parallel.failure != null && sequential.failure != null,
                        "iteration " + it + ": one decode failed and the other did not: " + parallel.failure + " / " + sequential.failure);
                assertEquals(((CorruptDeltaException) sequential.failure).reason(), ((CorruptDeltaException) parallel.failure).reason(),
                        "iteration " + it);
                rejected++;
            } else {
                assertTrue(java.util.Arrays.equals(sequential.positions, parallel.positions), "iteration " + it + ": positions differ");
                assertTrue(java.util.Arrays.equals(sequential.values, parallel.values), "iteration " + it + ": values differ");
                decoded++;
            }
        }
        System.out.println("parallel fuzz: " + iterations + " inputs, " + decoded + " decoded, " + rejected + " rejected");
        assertTrue(decoded > 0 && rejected > 0, "mutations should both pass and fail: " + decoded + " / " + rejected);
    }

    private record Outcome(byte[] positions, byte[] values, Throwable failure) {}

    private static Outcome decode(byte[] input, Arena arena) {
        try (arena) {
            DecodedDelta d = DeltaCodec.decode(MemorySegment.ofArray(input), DecodeOptions.defaults(), arena);
            DecoderFuzzTest.checkWellFormed(d);
            SparseTensorDelta s = d.toSparse(arena);
            int es = s.semantics() == SparseTensorDelta.Semantics.SET ? s.info().dtype().byteSize() : 4;
            return new Outcome(s.positions().asSlice(0, s.count() * 8).toArray(ValueLayout.JAVA_BYTE),
                    s.values().asSlice(0, s.count() * es).toArray(ValueLayout.JAVA_BYTE), null);
        } catch (Throwable t) {
            return new Outcome(null, null, t);
        }
    }
}
