package dev.merit.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.io.RandomAccessFile;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed and malicious files are refused with an {@link InvalidInputException} naming the file and the problem. */
class SafetensorsHostileFilesTest {

    @TempDir
    Path dir;

    private static final String ONE_F32 = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    private void assertRefused(Path file, String... problemWords) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> SafetensorsFile.open(file).close());
        assertTrue(e.getMessage().startsWith(file.toString() + ": "), "names the file: " + e.getMessage());
        for (String w : problemWords) {
            assertTrue(e.getMessage().contains(w), "mentions '" + w + "': " + e.getMessage());
        }
        assertEquals(-1, e.getMessage().indexOf('\n'), "one line: " + e.getMessage());
    }

    private Path file(String header, int dataBytes) {
        return RawFiles.write(dir.resolve("f.safetensors"), header, new byte[dataBytes]);
    }

    @Test
    void validBaselineOpens() {
        try (SafetensorsFile f = SafetensorsFile.open(file(ONE_F32, 8))) {
            assertEquals(List.of(TensorInfo.of("a", DType.F32, 2)), f.tensors());
        }
    }

    @Test
    void fileTooShortForTheLength() {
        assertRefused(RawFiles.write(dir.resolve("short.safetensors"), new byte[] {1, 0, 0}), "too short");
        assertRefused(RawFiles.write(dir.resolve("zero.safetensors"), new byte[0]), "too short");
    }

    @Test
    void headerLengthPastTheEndOfTheFile() {
        byte[] content = RawFiles.bytes(ONE_F32, new byte[8]);
        System.arraycopy(RawFiles.longLength(content.length), 0, content, 0, 8);
        assertRefused(RawFiles.write(dir.resolve("past.safetensors"), content), "header length", "past the end");
    }

    @Test
    void headerOverOneHundredMegabytes() throws Exception {
        // A sparse file big enough to hold the declared header, so only the size limit can refuse it.
        long declared = SafetensorsFile.MAX_HEADER_BYTES + 1;
        Path p = dir.resolve("huge-header.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            raf.write(RawFiles.longLength(declared));
            raf.setLength(8 + declared + 16);
        }
        assertRefused(p, "header length", "limit");
    }

    @Test
    void negativeHeaderLength() {
        byte[] content = RawFiles.bytes(ONE_F32, new byte[8]);
        System.arraycopy(RawFiles.longLength(-5), 0, content, 0, 8);
        assertRefused(RawFiles.write(dir.resolve("neg.safetensors"), content), "header length");
    }

    @Test
    void invalidJson() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",", 8), "invalid JSON");
        assertRefused(file("not json at all", 0), "invalid JSON");
        assertRefused(RawFiles.write(dir.resolve("utf8.safetensors"),
                RawFiles.bytes(new byte[] {'{', '"', (byte) 0xff, (byte) 0xfe, '"', ':', '1', '}'}, new byte[0])), "JSON");
    }

    @Test
    void trailingGarbageAfterTheJsonObject() {
        assertRefused(file(ONE_F32 + " {}", 8), "JSON");
        assertRefused(file(ONE_F32 + "x", 8), "JSON");
    }

    @Test
    void deeplyNestedJsonIsRefusedNotOverflowingTheStack() {
        String deep = "{\"__metadata__\":" + "[".repeat(200_000) + "]".repeat(200_000) + "}";
        assertRefused(file(deep, 0), "JSON");
    }

    @Test
    void headerThatIsNotAnObject() {
        assertRefused(file("[1,2]", 0), "not a JSON object");
        assertRefused(file("", 0), "not a JSON object");
        assertRefused(file("null", 0), "not a JSON object");
    }

    @Test
    void offsetsOutOfRange() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 8), "tensor 'a'", "out of range");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8), "tensor 'a'", "out of range");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 8), "tensor 'a'", "out of range");
        assertRefused(file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[9223372036854775806,9223372036854775807]}}", 8),
                "tensor 'a'", "out of range");
    }

    @Test
    void overlappingTensors() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "'a'", "'b'", "overlap");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "overlap");
    }

    @Test
    void offsetsNotMatchingDtypeTimesShape() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "tensor 'a'", "needs 12");
        assertRefused(file("{\"a\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[0,4]}}", 8), "tensor 'a'", "needs 8");
    }

    @Test
    void shapeWhoseSizeOverflows() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", 8),
                "tensor 'a'", "overflow");
    }

    @Test
    void unknownDtype() {
        assertRefused(file("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8), "tensor 'a'", "unknown dtype 'F8_E4M3'");
        assertRefused(file("{\"a\":{\"dtype\":7,\"shape\":[8],\"data_offsets\":[0,8]}}", 8), "tensor 'a'", "dtype");
    }

    @Test
    void malformedEntries() {
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "tensor 'a'", "shape");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8), "tensor 'a'", "shape");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8), "tensor 'a'", "shape");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8), "tensor 'a'", "data_offsets");
        assertRefused(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "tensor 'a'", "data_offsets");
        assertRefused(file("{\"a\":[1]}", 8), "tensor 'a'", "not a JSON object");
        assertRefused(file("{\"__metadata__\":{\"k\":1}}", 0), "__metadata__", "'k'");
        assertRefused(file("{\"__metadata__\":[]}", 0), "__metadata__");
    }

    @Test
    void duplicateTensorNames() {
        assertRefused(file("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                + "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2), "JSON", "a");
    }

    /**
     * Random mutations of a valid file (bytes of the header overwritten, inserted or deleted, the length
     * prefix changed, the file truncated or extended) either open, with every tensor readable, or are
     * refused with an InvalidInputException naming the file. Nothing else escapes and nothing hangs.
     * 20,000 mutants are parsed from memory (the same validation as a mapped file) and 300 more
     * are written to disk and opened.
     */
    @Test
    void randomMutationsAreRefusedOrReadCleanly() throws Exception {
        mutationRounds(20_000, 20240601, false);
        mutationRounds(300, 77, true);
    }

    private void mutationRounds(int rounds, long seed, boolean throughFiles) throws Exception {
        Path valid = dir.resolve("valid.safetensors");
        dev.merit.testing.TestModels.builder().seed(3)
                .tensor("w", DType.F32, 3, 2).tensor("b", DType.BF16, 2).tensor("s", DType.I64)
                .tensor("e", DType.U8, 0).tensor("m", DType.BOOL, 4)
                .metadata("format", "pt").write(valid);
        byte[] original = Files.readAllBytes(valid);
        int headerEnd = 8 + (int) java.nio.ByteBuffer.wrap(original).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] interesting = "{}[]\":,0123456789-.eE \u0000tfnul\\".getBytes(StandardCharsets.UTF_8);
        SplittableRandom rnd = new SplittableRandom(seed);
        Path p = dir.resolve("mutant.safetensors");
        int opened = 0;
        for (int round = 0; round < rounds; round++) {
            byte[] m = original.clone();
            int edits = 1 + rnd.nextInt(3);
            for (int e = 0; e < edits; e++) {
                m = mutate(m, headerEnd, interesting, rnd);
            }
            if (throughFiles) {
                Files.write(p, m);
            }
            try (SafetensorsFile f = throughFiles ? SafetensorsFile.open(p) : SafetensorsFile.parse(p, MemorySegment.ofArray(m))) {
                opened++;
                for (TensorInfo t : f.tensors()) {
                    MemorySegment s = f.data(t.name());
                    assertEquals(t.byteSize(), s.byteSize(), t.name());
                    long sum = 0;
                    for (long i = 0; i < s.byteSize(); i++) {
                        sum += s.get(ValueLayout.JAVA_BYTE, i);
                    }
                    assertTrue(sum > Long.MIN_VALUE);
                }
            } catch (InvalidInputException e) {
                assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
            } catch (Throwable t) {
                fail("round " + round + ": unexpected " + t + " for file bytes " + Arrays.toString(m), t);
            }
        }
        assertTrue(opened > 0 && opened < rounds, "both outcomes occur: " + opened + " opened");
    }

    private static byte[] mutate(byte[] m, int headerEnd, byte[] interesting, SplittableRandom rnd) {
        int kind = rnd.nextInt(8);
        int at = 8 + rnd.nextInt(Math.max(1, Math.min(headerEnd, m.length) - 8));
        return switch (kind) {
            case 0 -> { // random byte in the header
                byte[] c = m.clone();
                if (at < c.length) c[at] = (byte) rnd.nextInt(256);
                yield c;
            }
            case 1, 2 -> { // a JSON-significant character in the header
                byte[] c = m.clone();
                if (at < c.length) c[at] = interesting[rnd.nextInt(interesting.length)];
                yield c;
            }
            case 3 -> { // insert a character, keeping the length prefix (so data shifts) or adjusting it
                byte[] c = new byte[m.length + 1];
                int pos = Math.min(at, m.length);
                System.arraycopy(m, 0, c, 0, pos);
                c[pos] = interesting[rnd.nextInt(interesting.length)];
                System.arraycopy(m, pos, c, pos + 1, m.length - pos);
                if (rnd.nextBoolean()) bumpLength(c, 1);
                yield c;
            }
            case 4 -> { // delete a character
                if (m.length <= 9 || at >= m.length) yield m;
                byte[] c = new byte[m.length - 1];
                System.arraycopy(m, 0, c, 0, at);
                System.arraycopy(m, at + 1, c, at, m.length - at - 1);
                if (rnd.nextBoolean()) bumpLength(c, -1);
                yield c;
            }
            case 5 -> { // change the length prefix
                byte[] c = m.clone();
                if (c.length >= 8) {
                    if (rnd.nextBoolean()) c[rnd.nextInt(8)] = (byte) rnd.nextInt(256);
                    else bumpLength(c, rnd.nextInt(-16, 17));
                }
                yield c;
            }
            case 6 -> Arrays.copyOf(m, rnd.nextInt(m.length + 1)); // truncate
            default -> Arrays.copyOf(m, m.length + 1 + rnd.nextInt(64)); // extend with zeros
        };
    }

    private static void bumpLength(byte[] c, long delta) {
        if (c.length < 8) return;
        var b = java.nio.ByteBuffer.wrap(c).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, b.getLong(0) + delta);
    }

    @Test
    void writerRefusesATensorNamedLikeTheMetadataKey() {
        assertThrows(InvalidInputException.class, () -> SafetensorsWriter.create(dir.resolve("x.safetensors"),
                List.of(TensorInfo.of("__metadata__", DType.U8, 1)), Map.of()).close());
        assertTrue(Files.notExists(dir.resolve("x.safetensors")));
    }

    @Test
    void writerRefusesDuplicateNames() throws Exception {
        assertThrows(InvalidInputException.class, () -> SafetensorsWriter.create(dir.resolve("x.safetensors"),
                List.of(TensorInfo.of("a", DType.U8, 1), TensorInfo.of("a", DType.U8, 2)), Map.of()).close());
        try (var s = Files.list(dir)) {
            assertEquals(0, s.count(), "no temporary file left behind");
        }
    }
}
