package dev.merit.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files and single tensors over 2 GiB, as sparse files so the test uses almost no disk and memory. */
class SafetensorsLargeFileTest {

    private static final long BIG = 5L << 29; // 2.5 GiB

    @TempDir
    Path dir;

    @Test
    void readsBytesNearTheEndOfATensorOverTwoGibibytes() throws Exception {
        String header = "{\"small\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"big\":{\"dtype\":\"U8\",\"shape\":[" + BIG + "],\"data_offsets\":[8," + (8 + BIG) + "]},"
                + "\"tail\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[" + (8 + BIG) + "," + (10 + BIG) + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        long dataStart = 8 + h.length;
        Path p = dir.resolve("big.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            raf.write(RawFiles.longLength(h.length));
            raf.write(h);
            raf.setLength(dataStart + BIG + 10);
            raf.seek(dataStart + 8 + BIG - 3);
            raf.write(new byte[] {42, 43, 44});
            raf.seek(dataStart + 8 + (1L << 31) + 1);
            raf.write(7);
            raf.seek(dataStart + 8 + BIG);
            raf.write(new byte[] {(byte) 0xfe, (byte) 0xff}); // I16 -2
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of(TensorInfo.of("small", DType.F32, 2), TensorInfo.of("big", DType.U8, BIG),
                    TensorInfo.of("tail", DType.I16, 1)), f.tensors());
            MemorySegment big = f.data("big");
            assertEquals(BIG, big.byteSize());
            assertEquals(42, big.get(ValueLayout.JAVA_BYTE, BIG - 3));
            assertEquals(44, big.get(ValueLayout.JAVA_BYTE, BIG - 1));
            assertEquals(7.0, DType.U8.getDouble(big, (1L << 31) + 1));
            assertEquals(0, big.get(ValueLayout.JAVA_BYTE, BIG / 2));
            assertEquals(-2.0, DType.I16.getDouble(f.data("tail"), 0));
            assertEquals(dataStart + 8 + BIG, f.fileOffset("tail"));
        }
    }

    @Test
    void writesATensorOverTwoGibibytesTouchingOnlyAFewPages() throws Exception {
        Path p = dir.resolve("written.safetensors");
        List<TensorInfo> layout = List.of(TensorInfo.of("head", DType.F32, 3), TensorInfo.of("big", DType.U8, BIG),
                TensorInfo.of("tail", DType.F64, 2));
        try (SafetensorsWriter w = SafetensorsWriter.create(p, layout, Map.of("k", "v"))) {
            MemorySegment big = w.segment("big");
            assertEquals(BIG, big.byteSize());
            big.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
            big.set(ValueLayout.JAVA_BYTE, (1L << 31) + 5, (byte) 2);
            big.set(ValueLayout.JAVA_BYTE, BIG - 1, (byte) 3);
            DType.F32.setFloat(w.segment("head"), 2, 2.5f);
            DType.F64.setDouble(w.segment("tail"), 1, -1e300);
            w.finish();
        }
        assertEquals(BIG + 12 + 16, Files.size(p) - headerEnd(p));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            MemorySegment big = f.data("big");
            assertEquals(1, big.get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(2, big.get(ValueLayout.JAVA_BYTE, (1L << 31) + 5));
            assertEquals(3, big.get(ValueLayout.JAVA_BYTE, BIG - 1));
            assertEquals(0, big.get(ValueLayout.JAVA_BYTE, BIG - 2));
            assertEquals(2.5, DType.F32.getDouble(f.data("head"), 2));
            assertEquals(-1e300, DType.F64.getDouble(f.data("tail"), 1));
            assertEquals(Map.of("k", "v"), f.metadata());
        }
    }

    private static long headerEnd(Path p) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "r")) {
            byte[] b = new byte[8];
            raf.readFully(b);
            return 8 + java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        }
    }
}
