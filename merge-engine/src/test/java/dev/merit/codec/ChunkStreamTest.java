package dev.merit.codec;

import static org.junit.jupiter.api.Assertions.*;

import dev.merit.codec.CorruptDeltaException.Reason;
import dev.merit.delta.SparseTensorDelta;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class ChunkStreamTest {

    private static MemorySegment encode(Arena arena, int chunk) {
        SparseTensorDelta d = Deltas.add(Deltas.f32("layers.0.mlp", 512, 512), 20_000, 9, 0.05, arena);
        return DeltaCodec.encode(d, EncodeOptions.defaults().withValues(ValueCoding.BF16).withChunkBytes(chunk), arena).encoded();
    }

    @Test
    void chunksAreBoundedAndConcatenateToTheEncoding() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment enc = encode(arena, 4096);
            List<MemorySegment> chunks = DeltaChunkWriter.chunks(enc);
            assertTrue(chunks.size() > 5);
            ByteArrayOutputStream joined = new ByteArrayOutputStream();
            for (MemorySegment c : chunks) {
                assertTrue(c.byteSize() <= 4096);
                joined.write(c.toArray(ValueLayout.JAVA_BYTE));
            }
            ByteArrayOutputStream streamed = new ByteArrayOutputStream();
            DeltaChunkWriter.writeTo(enc, streamed);
            assertArrayEquals(enc.toArray(ValueLayout.JAVA_BYTE), joined.toByteArray());
            assertArrayEquals(enc.toArray(ValueLayout.JAVA_BYTE), streamed.toByteArray());
        }
    }

    @Test
    void readerAcceptsAnySlicingAndYieldsTheSameBytesAndDelta() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment enc = encode(arena, 1000);
            SparseTensorDelta direct = DeltaCodec.decode(enc, DecodeOptions.defaults(), arena).toSparse(arena);
            SplittableRandom rnd = new SplittableRandom(4);
            for (int trial = 0; trial < 20; trial++) {
                try (DeltaChunkReader in = new DeltaChunkReader(DecodeOptions.defaults())) {
                    long at = 0;
                    while (at < enc.byteSize()) {
                        assertFalse(in.isComplete());
                        long n = Math.min(enc.byteSize() - at, 1 + rnd.nextInt(trial < 10 ? 50 : 5000));
                        in.accept(enc.asSlice(at, n));
                        at += n;
                        if (at >= 1000) {
                            assertEquals("layers.0.mlp", in.header().orElseThrow().info().name(), "header known after the first chunk");
                        }
                    }
                    assertTrue(in.isComplete());
                    assertEquals(-1, enc.mismatch(in.encoded()));
                    SparseTensorDelta back = in.decode(arena).toSparse(arena);
                    assertTrue(Deltas.samePositions(direct, back) && Deltas.sameValues(direct, back));
                }
            }
        }
    }

    @Test
    void readerRejectsBadChunksEarly() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment enc = encode(arena, 1000);
            List<MemorySegment> chunks = new ArrayList<>(DeltaChunkWriter.chunks(enc));
            // Swapped chunks: the frame index is part of each checksum.
            Collections.swap(chunks, 1, 2);
            assertEquals(Reason.BAD_CHUNK, feed(chunks).reason());
            Collections.swap(chunks, 1, 2);
            // A repeated chunk.
            List<MemorySegment> dup = new ArrayList<>(chunks);
            dup.add(3, chunks.get(2));
            assertEquals(Reason.BAD_CHUNK, feed(dup).reason());
            // Anything after the end.
            List<MemorySegment> extra = new ArrayList<>(chunks);
            extra.add(chunks.get(0));
            assertEquals(Reason.TRAILING_DATA, feed(extra).reason());
            // A wrong tensor is refused from the first chunk, before the rest is buffered.
            try (DeltaChunkReader in = new DeltaChunkReader(DecodeOptions.defaults().expecting(Deltas.f32("other", 512, 512)))) {
                CorruptDeltaException e = assertThrows(CorruptDeltaException.class, () -> in.accept(chunks.get(0)));
                assertEquals(Reason.LAYOUT_MISMATCH, e.reason());
            }
            // Incomplete input cannot be read out.
            try (DeltaChunkReader in = new DeltaChunkReader(DecodeOptions.defaults())) {
                in.accept(chunks.get(0));
                assertFalse(in.isComplete());
                assertEquals(Reason.TRUNCATED, assertThrows(CorruptDeltaException.class, in::encoded).reason());
            }
        }
    }

    private static CorruptDeltaException feed(List<MemorySegment> chunks) {
        try (DeltaChunkReader in = new DeltaChunkReader(DecodeOptions.defaults())) {
            return assertThrows(CorruptDeltaException.class, () -> {
                for (MemorySegment c : chunks) {
                    in.accept(c);
                }
            });
        }
    }
}
