package dev.merit.codec;

import static org.junit.jupiter.api.Assertions.*;

import dev.merit.delta.SparseTensorDelta;
import dev.merit.delta.SparseTensorDelta.Semantics;
import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

class DeltaCodecRoundTripTest {

    private static SparseTensorDelta roundTrip(SparseTensorDelta d, EncodeOptions o, Arena arena) {
        EncodeResult r = DeltaCodec.encode(d, o, arena);
        DecodedDelta back = DeltaCodec.decode(r.encoded(), DecodeOptions.defaults().expecting(d.info()), arena);
        assertEquals(r.header(), back.header().equals(r.header()) ? r.header() : null, "decoded header differs from encoder's");
        return back.toSparse(arena);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void setDeltasAreBitExactForEveryDtype(DType dtype) {
        try (Arena arena = Arena.ofShared()) {
            TensorInfo info = TensorInfo.of("layer." + dtype, dtype, 37, 53);
            for (long k : new long[] {0, 1, 20, 700, 1500, 37 * 53}) {
                for (boolean zstd : new boolean[] {false, true}) {
                    SparseTensorDelta d = Deltas.set(info, k, k * 31 + dtype.ordinal(), arena);
                    SparseTensorDelta back = roundTrip(d, EncodeOptions.defaults().withZstd(zstd), arena);
                    assertEquals(Semantics.SET, back.semantics());
                    assertTrue(Deltas.samePositions(d, back), "positions, k=" + k);
                    assertTrue(Deltas.sameValues(d, back), "values, k=" + k);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0001, 0.003, 0.05, 0.3, 0.45, 0.55, 0.9, 0.999})
    void exactAddRoundTripsAtEveryDensityAndPicksAFittingCoding(double density) {
        try (Arena arena = Arena.ofShared()) {
            TensorInfo info = Deltas.f32("w", 200, 500);
            long k = Math.round(density * info.numel());
            SparseTensorDelta d = Deltas.add(info, k, 7, 0.01, arena);
            EncodeResult r = DeltaCodec.encode(d, EncodeOptions.defaults().withZstd(false), arena);
            PositionCoding pc = r.header().positionCoding();
            if (density > 0.5) {
                assertNotEquals(PositionCoding.RICE, pc, "dense deltas code the complement");
            } else if (density < 0.3) {
                assertEquals(PositionCoding.RICE, pc);
            }
            assertInstanceOf(Residual.None.class, r.residual());
            SparseTensorDelta back = DeltaCodec.decode(r.encoded(), DecodeOptions.defaults(), arena).toSparse(arena);
            assertTrue(Deltas.samePositions(d, back));
            assertTrue(Deltas.sameValues(d, back));
        }
    }

    @Test
    void everyPositionCodingRoundTrips() {
        try (Arena arena = Arena.ofShared()) {
            TensorInfo info = Deltas.f32("v", 4001);
            // empty, full, sparse, near half (either side), dense
            for (long k : new long[] {0, 4001, 3, 1200, 2000, 2001, 3998}) {
                SparseTensorDelta d = Deltas.add(info, k, k, 1, arena);
                SparseTensorDelta back = roundTrip(d, EncodeOptions.defaults().withZstd(false), arena);
                assertTrue(Deltas.samePositions(d, back), "k=" + k);
            }
            // Positions packed at the ends: the encoder must not emit bits past numel.
            MemorySegment pos = arena.allocate(16 * 8);
            for (int i = 0; i < 8; i++) {
                pos.setAtIndex(SparseTensorDelta.POSITION, i, i);
                pos.setAtIndex(SparseTensorDelta.POSITION, 8 + i, 4001 - 8 + i);
            }
            SparseTensorDelta edges = new SparseTensorDelta(info, Semantics.ADD, 16, pos, arena.allocate(64));
            assertTrue(Deltas.samePositions(edges, roundTrip(edges, EncodeOptions.defaults(), arena)));
        }
    }

    @ParameterizedTest
    @EnumSource(value = ValueCoding.class, names = {"FP16", "BF16", "INT8"})
    void lossyValuesStayWithinTheirBoundsAndTheResidualIsExactlyWhatWasLost(ValueCoding coding) {
        try (Arena arena = Arena.ofShared()) {
            TensorInfo info = Deltas.f32("q", 300, 400);
            SparseTensorDelta d = Deltas.add(info, 9000, 3, 0.02, arena);
            // A few awkward values: zero, tiny, huge (past fp16's range), negative.
            float[] special = {0f, 1e-9f, -3e-6f, 1e5f, -7e4f, 65504f, 1e30f};
            for (int i = 0; i < special.length; i++) {
                d.values().setAtIndex(SparseTensorDelta.ADD_VALUE, i * 1000L, special[i]);
            }
            EncodeOptions o = EncodeOptions.defaults().withValues(coding).withInt8BlockSize(1000);
            EncodeResult r = DeltaCodec.encode(d, o, arena);
            SparseTensorDelta back = DeltaCodec.decode(r.encoded(), DecodeOptions.defaults(), arena).toSparse(arena);
            assertTrue(Deltas.samePositions(d, back));
            SparseTensorDelta res = assertInstanceOf(Residual.Sparse.class, r.residual()).delta();
            assertTrue(Deltas.samePositions(d, res));
            float[] blockMax = new float[9];
            for (long i = 0; i < d.count(); i++) {
                blockMax[(int) (i / 1000)] = Math.max(blockMax[(int) (i / 1000)], Math.abs(d.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i)));
            }
            for (long i = 0; i < d.count(); i++) {
                float v = d.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i);
                float got = back.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i);
                assertEquals(v - got, res.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i), 0f, "residual at " + i);
                double bound = switch (coding) {
                    case FP16 -> Math.abs(v) > 65504 ? Math.abs(v) - 65504 : Math.abs(v) >= 0x1p-14 ? Math.abs(v) * 0x1p-11 : 0x1p-25;
                    case BF16 -> Math.abs(v) * 0x1p-8;
                    case INT8 -> blockMax[(int) (i / 1000)] / 127.0 / 2 * (1 + 1e-5) + Math.abs(v) * 0x1p-23;
                    case EXACT -> 0;
                };
                assertTrue(Math.abs(got - v) <= bound, coding + " at " + i + ": " + v + " -> " + got);
            }
        }
    }

    @Test
    void lossyCodingsRejectNonFiniteValuesAndSetDeltas() {
        try (Arena arena = Arena.ofShared()) {
            SparseTensorDelta d = Deltas.add(Deltas.f32("nan", 100), 10, 1, 1, arena);
            d.values().setAtIndex(SparseTensorDelta.ADD_VALUE, 4, Float.NaN);
            InvalidInputException e = assertThrows(InvalidInputException.class,
                    () -> DeltaCodec.encode(d, EncodeOptions.defaults().withValues(ValueCoding.INT8), arena));
            assertTrue(e.getMessage().contains("'nan'") && e.getMessage().contains("entry 4"), e.getMessage());
            // Exact ADD keeps NaN bits as they are.
            SparseTensorDelta back = roundTrip(d, EncodeOptions.defaults(), arena);
            assertTrue(Float.isNaN(back.values().getAtIndex(SparseTensorDelta.ADD_VALUE, 4)));
            SparseTensorDelta set = Deltas.set(TensorInfo.of("s", DType.F32, 100), 5, 1, arena);
            assertThrows(IllegalArgumentException.class, () -> DeltaCodec.encode(set, EncodeOptions.defaults().withValues(ValueCoding.FP16), arena));
        }
    }

    @Test
    void unsortedOrOutOfRangeInputIsRejectedByTheEncoder() {
        try (Arena arena = Arena.ofShared()) {
            TensorInfo info = Deltas.f32("bad", 10);
            MemorySegment pos = arena.allocate(24);
            pos.setAtIndex(SparseTensorDelta.POSITION, 0, 3);
            pos.setAtIndex(SparseTensorDelta.POSITION, 1, 3);
            pos.setAtIndex(SparseTensorDelta.POSITION, 2, 5);
            SparseTensorDelta dup = new SparseTensorDelta(info, Semantics.ADD, 3, pos, arena.allocate(12));
            assertThrows(InvalidInputException.class, () -> DeltaCodec.encode(dup, EncodeOptions.defaults(), arena));
            pos.setAtIndex(SparseTensorDelta.POSITION, 1, 4);
            pos.setAtIndex(SparseTensorDelta.POSITION, 2, 10);
            SparseTensorDelta outside = new SparseTensorDelta(info, Semantics.ADD, 3, pos, arena.allocate(12));
            assertThrows(InvalidInputException.class, () -> DeltaCodec.encode(outside, EncodeOptions.defaults(), arena));
        }
    }

    @Test
    void encodingIsDeterministicAndChunkSizeOnlyChangesFraming() {
        try (Arena arena = Arena.ofShared()) {
            SparseTensorDelta d = Deltas.add(Deltas.f32("det", 1000, 100), 5000, 11, 0.1, arena);
            for (ValueCoding v : ValueCoding.values()) {
                EncodeOptions o = EncodeOptions.defaults().withValues(v).withChunkBytes(256);
                MemorySegment a = DeltaCodec.encode(d, o, arena).encoded();
                MemorySegment b = DeltaCodec.encode(d, o, arena).encoded();
                assertEquals(-1, a.mismatch(b), v + " encodes differently twice");
                for (MemorySegment c : DeltaChunkWriter.chunks(a)) {
                    assertTrue(c.byteSize() <= 256);
                }
                MemorySegment big = DeltaCodec.encode(d, o.withChunkBytes(1 << 20), arena).encoded();
                assertEquals(DeltaCodec.inspect(a, DecodeOptions.defaults()), DeltaCodec.inspect(big, DecodeOptions.defaults()));
            }
        }
    }

    @Test
    void fixedMaskSendsNoPositionsAndNeedsTheReceiversMask() {
        try (Arena arena = Arena.ofShared()) {
            TensorInfo info = Deltas.f32("masked", 50_000);
            SparseTensorDelta d = Deltas.add(info, 500, 5, 1, arena);
            Mask mask = Mask.of(d);
            EncodeResult withMask = DeltaCodec.encode(d, EncodeOptions.defaults().withFixedMask(mask).withValues(ValueCoding.FP16), arena);
            EncodeResult without = DeltaCodec.encode(d, EncodeOptions.defaults().withValues(ValueCoding.FP16), arena);
            assertEquals(PositionCoding.FIXED_MASK, withMask.header().positionCoding());
            assertEquals(0, withMask.stats().positionBits());
            assertTrue(withMask.stats().totalBytes() < without.stats().totalBytes() - 400);
            CorruptDeltaException e = assertThrows(CorruptDeltaException.class,
                    () -> DeltaCodec.decode(withMask.encoded(), DecodeOptions.defaults(), arena));
            assertEquals(CorruptDeltaException.Reason.UNKNOWN_MASK, e.reason());
            byte[] digest = mask.digest();
            DecodeOptions o = DecodeOptions.defaults().withMasks(dg -> java.util.Arrays.equals(dg, digest) ? mask : null);
            SparseTensorDelta back = DeltaCodec.decode(withMask.encoded(), o, arena).toSparse(arena);
            assertTrue(Deltas.samePositions(d, back));
            // A delta whose positions differ from the mask is refused.
            SparseTensorDelta other = Deltas.add(info, 500, 6, 1, arena);
            assertThrows(InvalidInputException.class, () -> DeltaCodec.encode(other, EncodeOptions.defaults().withFixedMask(mask), arena));
        }
    }

    @Test
    void decoderChecksTheExpectedLayoutAndLimits() {
        try (Arena arena = Arena.ofShared()) {
            SparseTensorDelta d = Deltas.add(Deltas.f32("a", 64, 64), 100, 1, 1, arena);
            MemorySegment enc = DeltaCodec.encode(d, EncodeOptions.defaults(), arena).encoded();
            CorruptDeltaException e = assertThrows(CorruptDeltaException.class,
                    () -> DeltaCodec.decode(enc, DecodeOptions.defaults().expecting(Deltas.f32("a", 64, 65)), arena));
            assertEquals(CorruptDeltaException.Reason.LAYOUT_MISMATCH, e.reason());
            e = assertThrows(CorruptDeltaException.class, () -> DeltaCodec.decode(enc, DecodeOptions.defaults().withMaxElements(4000), arena));
            assertEquals(CorruptDeltaException.Reason.LIMIT_EXCEEDED, e.reason());
            byte[] bytes = enc.toArray(ValueLayout.JAVA_BYTE);
            bytes[8 + 4] = 2; // format version inside the first chunk; fix the checksum so only the version is wrong
            MemorySegment seg = MemorySegment.ofArray(bytes);
            int len = seg.get(Frames.U32, 0);
            seg.set(Frames.U32, 4, Frames.crc(0, seg.asSlice(8, len)));
            e = assertThrows(CorruptDeltaException.class, () -> DeltaCodec.decode(seg, DecodeOptions.defaults(), arena));
            assertEquals(CorruptDeltaException.Reason.UNSUPPORTED_VERSION, e.reason());
            assertTrue(e.getMessage().contains("version 2") && e.getMessage().contains("version 1"), e.getMessage());
        }
    }

    @Test
    void statsReportSizesAgainstTheBoundAndDenseFloat32() {
        try (Arena arena = Arena.ofShared()) {
            SparseTensorDelta d = Deltas.add(Deltas.f32("s", 1 << 20), 5243, 2, 0.01, arena);
            EncodeResult r = DeltaCodec.encode(d, EncodeOptions.defaults().withValues(ValueCoding.FP16).withZstd(false), arena);
            EncodeStats s = r.stats();
            assertEquals(r.encoded().byteSize(), s.totalBytes());
            assertEquals(5243 * 16, s.valueBits());
            assertTrue(s.positionRatio() > 1 && s.positionRatio() < 1.15, "ratio " + s.positionRatio());
            assertEquals((1 << 20) * 4.0 / s.totalBytes(), s.ratioVsDenseF32(), 1e-9);
            assertTrue(s.ratioVsDenseF32() > 200, "ratio vs dense " + s.ratioVsDenseF32());
        }
    }

    @Test
    void log2BinomialMatchesADirectSum() {
        for (long[] nk : new long[][] {{10, 3}, {100, 50}, {1000, 1}, {12345, 678}, {20, 20}, {17, 0}}) {
            double direct = 0;
            for (long i = 0; i < nk[1]; i++) {
                direct += Math.log((double) (nk[0] - i) / (nk[1] - i)) / Math.log(2);
            }
            assertEquals(direct, EncodeStats.log2Binomial(nk[0], nk[1]), 1e-9 * Math.max(1, direct), nk[0] + " choose " + nk[1]);
        }
    }
}
