package dev.merit.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {

    @TempDir
    Path dir;

    /** Every dtype as a matrix, a scalar and an empty tensor, filled with random bit patterns plus special values. */
    private Path writeAllDtypes(Path path, Map<String, String> metadata) {
        List<TensorInfo> layout = new ArrayList<>();
        for (DType d : DType.values()) {
            layout.add(TensorInfo.of(d.name() + ".matrix", d, 7, 5));
            layout.add(TensorInfo.of(d.name() + ".scalar", d));
            layout.add(TensorInfo.of(d.name() + ".empty", d, 3, 0, 2));
        }
        SplittableRandom rnd = new SplittableRandom(11);
        try (SafetensorsWriter w = SafetensorsWriter.create(path, layout, metadata)) {
            for (TensorInfo t : layout) {
                MemorySegment seg = w.segment(t.name());
                for (long i = 0; i < seg.byteSize(); i++) {
                    seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
                }
                if (t.name().endsWith(".matrix")) {
                    putSpecials(t.dtype(), seg);
                }
            }
            w.finish();
        }
        return path;
    }

    /** Negative zero, NaNs with payloads and sign, infinities and a subnormal in the first entries. */
    private static void putSpecials(DType d, MemorySegment seg) {
        ByteOrder le = ByteOrder.LITTLE_ENDIAN;
        switch (d) {
            case F64 -> {
                long[] bits = {0x8000000000000000L, 0x7ff0000000000001L, 0xfff8000000001234L, 0x7ff0000000000000L, 1L};
                for (int i = 0; i < bits.length; i++) {
                    seg.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(le), 8L * i, bits[i]);
                }
            }
            case F32 -> {
                int[] bits = {0x80000000, 0x7f800001, 0xffc01234, 0xff800000, 1};
                for (int i = 0; i < bits.length; i++) {
                    seg.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(le), 4L * i, bits[i]);
                }
            }
            case F16, BF16 -> {
                short[] bits = d == DType.F16
                        ? new short[] {(short) 0x8000, (short) 0x7c01, (short) 0xfe12, (short) 0x7c00, 1}
                        : new short[] {(short) 0x8000, (short) 0x7f81, (short) 0xffc3, (short) 0x7f80, 1};
                for (int i = 0; i < bits.length; i++) {
                    seg.set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(le), 2L * i, bits[i]);
                }
            }
            default -> { }
        }
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    @Test
    void readingAndWritingBackKeepsEveryTensorAndTheMetadataExactly() throws Exception {
        Map<String, String> md = new LinkedHashMap<>();
        md.put("format", "pt");
        md.put("note", "unicode é ✓ and \"quotes\"");
        md.put("empty", "");
        Path original = writeAllDtypes(dir.resolve("a.safetensors"), md);
        Path copy = dir.resolve("b.safetensors");
        try (SafetensorsFile in = SafetensorsFile.open(original)) {
            assertEquals(3 * DType.values().length, in.tensors().size());
            SafetensorsWriter.write(in, copy);
        }
        try (SafetensorsFile a = SafetensorsFile.open(original); SafetensorsFile b = SafetensorsFile.open(copy)) {
            assertEquals(a.tensors(), b.tensors(), "names, dtypes, shapes and order");
            assertEquals(md, b.metadata());
            for (TensorInfo t : a.tensors()) {
                assertEquals(t.byteSize(), b.data(t.name()).byteSize(), t.name());
                assertArrayEquals(bytes(a.data(t.name())), bytes(b.data(t.name())), t.name());
            }
            TensorInfo scalar = b.info("F32.scalar").orElseThrow();
            assertEquals(0, scalar.rank());
            assertEquals(4, b.data("F32.scalar").byteSize());
            assertEquals(0, b.data("BF16.empty").byteSize());
            // The special values survive bit for bit (NaN payloads are not canonicalised, -0.0 keeps its sign).
            MemorySegment f32 = b.data("F32.matrix");
            assertEquals(0x80000000, f32.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
            assertEquals(0xffc01234, f32.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 8));
            assertTrue(Double.isNaN(DType.F64.getDouble(b.data("F64.matrix"), 1)));
            assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(DType.F64.getDouble(b.data("F64.matrix"), 0)));
        }
        assertArrayEquals(Files.readAllBytes(original), Files.readAllBytes(copy), "a rewrite is byte-identical");
    }

    @Test
    void writtenFilesFollowTheFormat() throws Exception {
        Path p = writeAllDtypes(dir.resolve("a.safetensors"), Map.of("k", "v"));
        byte[] all = Files.readAllBytes(p);
        long headerLen = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, (8 + headerLen) % 8, "data section is 8-byte aligned");
        String header = new String(all, 8, (int) headerLen, StandardCharsets.UTF_8);
        var root = SafetensorsFile.JSON.readTree(header);
        assertEquals("v", root.get("__metadata__").get("k").asText());
        long dataSize = all.length - 8 - headerLen;
        long sum = 0;
        for (var it = root.fields(); it.hasNext(); ) {
            var e = it.next();
            if (e.getKey().equals("__metadata__")) {
                continue;
            }
            var offs = e.getValue().get("data_offsets");
            sum += offs.get(1).asLong() - offs.get(0).asLong();
        }
        assertEquals(dataSize, sum, "tensors fill the data section exactly");
    }

    /** A file built by hand: keys not in offset order, no padding, values chosen so their encodings are known. */
    @Test
    void readsHandBuiltFileAndDecodesValues() throws Exception {
        ByteBuffer data = ByteBuffer.allocate(8 + 12 + 2 + 1 + 8).order(ByteOrder.LITTLE_ENDIAN);
        data.putLong(-3L);                                     // i64 at [0, 8)
        data.putFloat(1.5f).putFloat(-0.0f).putFloat(1e-45f);   // f32 at [8, 20)
        data.putShort((short) 0x3c00);                         // f16 1.0 at [20, 22)
        data.put((byte) 1);                                    // bool at [22, 23)
        data.putDouble(Math.PI);                               // f64 at [23, 31), unaligned
        String header = "{\"f\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[8,20]},"
                + "\"__metadata__\":{\"a\":\"b\"},"
                + "\"b\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[22,23]},"
                + "\"i\":{\"dtype\":\"I64\",\"shape\":[1,1],\"data_offsets\":[0,8]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[1],\"data_offsets\":[20,22]},"
                + "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[23,31]}}";
        Path p = RawFiles.write(dir.resolve("hand.safetensors"), header, data.array());
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of("f", "b", "i", "h", "d"), f.tensors().stream().map(TensorInfo::name).toList());
            assertEquals(Map.of("a", "b"), f.metadata());
            assertEquals(1.5, DType.F32.getDouble(f.data("f"), 0));
            assertEquals(Float.floatToRawIntBits(-0.0f), Float.floatToRawIntBits(DType.F32.getFloat(f.data("f"), 1)));
            assertEquals(Float.MIN_VALUE, DType.F32.getFloat(f.data("f"), 2));
            assertEquals(1.0, DType.BOOL.getDouble(f.data("b"), 0));
            assertEquals(-3.0, DType.I64.getDouble(f.data("i"), 0));
            assertEquals(1.0, DType.F16.getDouble(f.data("h"), 0));
            assertEquals(Math.PI, DType.F64.getDouble(f.data("d"), 0));
            assertEquals(8 + header.length() + 23, f.fileOffset("d"));
            Path copy = dir.resolve("copy.safetensors");
            SafetensorsWriter.write(f, copy);
            try (SafetensorsFile c = SafetensorsFile.open(copy)) {
                assertEquals(f.tensors(), c.tensors());
                assertEquals(f.metadata(), c.metadata());
                for (TensorInfo t : f.tensors()) {
                    assertArrayEquals(bytes(f.data(t.name())), bytes(c.data(t.name())), t.name());
                }
            }
        }
    }

    @Test
    void fileWithoutTensorsOrMetadataRoundTrips() throws Exception {
        Path p = RawFiles.write(dir.resolve("empty.safetensors"), "{}", new byte[0]);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.tensors().isEmpty());
            assertTrue(f.metadata().isEmpty());
            Path copy = dir.resolve("copy.safetensors");
            SafetensorsWriter.write(f, copy);
            try (SafetensorsFile c = SafetensorsFile.open(copy)) {
                assertTrue(c.tensors().isEmpty());
            }
        }
    }
}
