package dev.merit.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link SafetensorsWriter.Mode#POSITIONAL} writes the same file as the mapped mode, with the same guarantees. */
class SafetensorsWriterModeTest {

    @TempDir
    Path dir;

    static final List<TensorInfo> LAYOUT = List.of(TensorInfo.of("w", DType.F32, 300, 1000),
            TensorInfo.of("b", DType.BF16, 77), TensorInfo.of("ids", DType.I64, 5), TensorInfo.of("empty", DType.F32, 0));
    static final Map<String, String> META = Map.of("k", "v");

    private static byte[] random(long n, long seed) {
        byte[] b = new byte[(int) n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }

    @Test
    void positionalWritesFromSeveralThreadsGiveTheMappedFile() throws Exception {
        Path mapped = dir.resolve("mapped.safetensors");
        Path positional = dir.resolve("positional.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(mapped, LAYOUT, META)) {
            for (TensorInfo t : LAYOUT) {
                MemorySegment.copy(MemorySegment.ofArray(random(t.byteSize(), t.name().hashCode())), 0,
                        w.segment(t.name()), 0, t.byteSize());
            }
            w.finish();
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(positional, LAYOUT, META, SafetensorsWriter.Mode.POSITIONAL);
             Arena arena = Arena.ofShared()) {
            assertEquals(SafetensorsWriter.Mode.POSITIONAL, w.mode());
            for (TensorInfo t : LAYOUT) {
                byte[] bytes = random(t.byteSize(), t.name().hashCode());
                // Pieces of uneven size, in reverse order, from native and heap memory, on two threads.
                int piece = 4093 * 7;
                int pieces = (bytes.length + piece - 1) / piece;
                IntStream.range(0, pieces).map(i -> pieces - 1 - i).parallel().forEach(i -> {
                    int off = i * piece;
                    int len = Math.min(piece, bytes.length - off);
                    MemorySegment src = MemorySegment.ofArray(bytes).asSlice(off, len);
                    if (i % 2 == 0) {
                        MemorySegment nat = arena.allocate(len);
                        MemorySegment.copy(src, 0, nat, 0, len);
                        src = nat;
                    }
                    w.write(t.name(), off, src);
                });
            }
            w.finish();
        }
        assertEquals(-1, Files.mismatch(mapped, positional));
        try (SafetensorsFile f = SafetensorsFile.open(positional)) {
            assertEquals(LAYOUT, f.tensors());
            assertEquals("v", f.metadata().get("k"));
        }
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(positional)));
    }

    @Test
    void writesPastTheBackgroundFlushThresholdAllArrive() throws Exception {
        long floats = (SafetensorsWriter.EARLY_FLUSH_BYTES * 5 / 2) / 4; // two background flushes and a tail
        List<TensorInfo> layout = List.of(TensorInfo.of("big", DType.F32, floats));
        Path p = dir.resolve("big.safetensors");
        int piece = 1 << 18;
        ValueLayout.OfFloat f32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);
        try (SafetensorsWriter w = SafetensorsWriter.create(p, layout, META, SafetensorsWriter.Mode.POSITIONAL)) {
            IntStream.range(0, (int) ((floats + piece - 1) / piece)).parallel().forEach(k -> {
                try (Arena a = Arena.ofConfined()) {
                    long from = (long) k * piece;
                    int len = (int) Math.min(piece, floats - from);
                    MemorySegment s = a.allocate(4L * len);
                    for (int j = 0; j < len; j++) {
                        s.setAtIndex(f32, j, from + j);
                    }
                    w.write("big", 4 * from, s);
                }
            });
            w.finish();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            MemorySegment d = f.data("big");
            for (long i = 0; i < floats; i += 9973) {
                assertEquals((float) i, d.getAtIndex(f32, i));
            }
            assertEquals((float) (floats - 1), d.getAtIndex(f32, floats - 1));
        }
    }

    @Test
    void unwrittenBytesAreZeroAndTheSizeIsFinal() {
        Path p = dir.resolve("sparse.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, LAYOUT, META, SafetensorsWriter.Mode.POSITIONAL)) {
            w.write("b", 2, MemorySegment.ofArray(new byte[] {7, 7}));
            w.finish(false);
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            MemorySegment b = f.data("b");
            assertEquals(7, b.get(ValueLayout.JAVA_BYTE, 2));
            assertEquals(0, b.get(ValueLayout.JAVA_BYTE, 1));
            assertEquals(0, f.data("w").get(ValueLayout.JAVA_BYTE, f.data("w").byteSize() - 1));
        }
    }

    @Test
    void misuseIsRefusedAndAnUnfinishedFileLeavesNothing() throws Exception {
        Path p = dir.resolve("never.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(p, LAYOUT, META, SafetensorsWriter.Mode.POSITIONAL)) {
            assertThrows(IllegalStateException.class, () -> w.segment("w"));
            assertThrows(IndexOutOfBoundsException.class, () -> w.write("b", 150, MemorySegment.ofArray(new byte[8])));
            assertThrows(IndexOutOfBoundsException.class, () -> w.write("b", -1, MemorySegment.ofArray(new byte[1])));
            assertThrows(IllegalArgumentException.class, () -> w.write("nope", 0, MemorySegment.ofArray(new byte[1])));
            w.write("ids", 0, MemorySegment.ofArray(new byte[40]));
        }
        assertFalse(Files.exists(p));
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count());
        }
        // The mapped writer accepts write() too.
        Path m = dir.resolve("mapped.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(m, LAYOUT, META)) {
            w.write("ids", 8, MemorySegment.ofArray(new byte[] {1, 2, 3}));
            w.finish();
        }
        try (SafetensorsFile f = SafetensorsFile.open(m)) {
            assertEquals(3, f.data("ids").get(ValueLayout.JAVA_BYTE, 10));
        }
    }
}
