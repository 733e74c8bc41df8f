package dev.merit.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.testing.TestModels;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardedSafetensorsTest {

    @TempDir
    Path dir;

    private Path model() {
        return TestModels.builder().seed(5)
                .tensor("embed", DType.F32, 40, 16)      // 2560 bytes: a shard of its own
                .tensor("layer.0.w", DType.BF16, 16, 16)
                .tensor("layer.0.b", DType.F16, 16)
                .tensor("layer.1.w", DType.F64, 8, 8)
                .tensor("count", DType.I64)
                .tensor("mask", DType.BOOL, 5)
                .tensor("none", DType.I8, 0)
                .metadata("format", "pt").metadata("author", "test")
                .write(dir.resolve("model.safetensors"));
    }

    @Test
    void writeThenOpenTheIndexGivesBackEveryTensor() throws Exception {
        Path single = model();
        Path out = dir.resolve("sharded");
        Path index;
        try (TensorSource src = Safetensors.open(single)) {
            index = ShardedSafetensors.write(src, out, "model", 1024);
        }
        assertEquals("model" + ShardedSafetensors.INDEX_SUFFIX, index.getFileName().toString());
        try (TensorSource src = Safetensors.open(single); TensorSource back = Safetensors.open(index)) {
            assertTrue(back instanceof ShardedSafetensors);
            assertEquals(sorted(src.tensors()), sorted(back.tensors()));
            for (TensorInfo t : src.tensors()) {
                assertArrayEquals(src.data(t.name()).toArray(ValueLayout.JAVA_BYTE),
                        back.data(t.name()).toArray(ValueLayout.JAVA_BYTE), t.name());
            }
            assertEquals(src.metadata(), back.metadata(), "metadata round-trips (total_size is the index's own)");
            assertEquals(index.toString(), back.describe());
        }
        Set<String> shards;
        try (var s = Files.list(out)) {
            shards = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).collect(Collectors.toSet());
        }
        assertTrue(shards.size() >= 3, "split into several shards: " + shards);
        var root = SafetensorsFile.JSON.readTree(index.toFile());
        long total = 0;
        try (TensorSource src = Safetensors.open(single)) {
            for (TensorInfo t : src.tensors()) total += t.byteSize();
        }
        assertEquals(total, root.get("metadata").get("total_size").asLong());
        assertTrue(root.get("metadata").get("total_size").isNumber(), "total_size is a number, as in Hugging Face indexes");
    }

    private static List<TensorInfo> sorted(List<TensorInfo> l) {
        return l.stream().sorted(Comparator.comparing(TensorInfo::name)).toList();
    }

    private Path shard() {
        return TestModels.builder().tensor("a", DType.F32, 2).tensor("b", DType.U8, 3)
                .write(dir.resolve("s-00001-of-00001.safetensors"));
    }

    private Path index(String json) throws Exception {
        return Files.writeString(dir.resolve("m.safetensors.index.json"), json, StandardCharsets.UTF_8);
    }

    private void assertRefused(Path index, String... words) {
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Safetensors.open(index).close());
        assertTrue(e.getMessage().startsWith(index + ": "), "names the index: " + e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "mentions '" + w + "': " + e.getMessage());
        }
    }

    @Test
    void handWrittenIndexOpens() throws Exception {
        shard();
        Path idx = index("{\"metadata\":{\"total_size\":11,\"format\":\"pt\"},"
                + "\"weight_map\":{\"b\":\"s-00001-of-00001.safetensors\",\"a\":\"./s-00001-of-00001.safetensors\"}}");
        try (TensorSource s = Safetensors.open(idx)) {
            assertEquals(Set.of("a", "b"), s.tensors().stream().map(TensorInfo::name).collect(Collectors.toSet()));
            assertEquals(Map.of("format", "pt"), s.metadata());
            assertEquals(3, s.data("b").byteSize());
            assertThrows(NotFoundException.class, () -> s.data("c"));
        }
    }

    @Test
    void missingWeightMap() throws Exception {
        assertRefused(index("{\"metadata\":{}}"), "weight_map");
        assertRefused(index("{\"weight_map\":[]}"), "weight_map");
        assertRefused(index("[]"), "weight_map");
    }

    @Test
    void invalidJson() throws Exception {
        assertRefused(index("{\"weight_map\":{"), "invalid JSON");
    }

    @Test
    void tensorNotInItsShard() throws Exception {
        shard();
        assertRefused(index("{\"weight_map\":{\"zzz\":\"s-00001-of-00001.safetensors\"}}"), "'zzz'", "not in shard");
    }

    @Test
    void shardPathEscapingTheFolder() throws Exception {
        shard();
        Path outside = TestModels.builder().tensor("a", DType.F32, 2).write(dir.getParent().resolve(dir.getFileName() + "-outside.safetensors"));
        try {
            assertRefused(index("{\"weight_map\":{\"a\":\"../" + outside.getFileName() + "\"}}"), "'a'", "outside");
            assertRefused(index("{\"weight_map\":{\"a\":\"" + outside.toAbsolutePath() + "\"}}"), "'a'", "outside");
        } finally {
            Files.deleteIfExists(outside);
        }
    }

    @Test
    void indexReachedThroughDotDotStillFindsItsShards() throws Exception {
        shard();
        Files.createDirectories(dir.resolve("sub"));
        index("{\"weight_map\":{\"a\":\"s-00001-of-00001.safetensors\"}}");
        try (TensorSource s = Safetensors.open(dir.resolve("sub/../m.safetensors.index.json"))) {
            assertEquals(1, s.tensors().size());
        }
    }

    @Test
    void missingShardFile() throws Exception {
        assertRefused(index("{\"weight_map\":{\"a\":\"gone.safetensors\"}}"), "'a'", "gone.safetensors", "does not exist");
    }

    @Test
    void shardEntryThatIsNotAFileName() throws Exception {
        shard();
        assertRefused(index("{\"weight_map\":{\"a\":{\"file\":\"s-00001-of-00001.safetensors\"}}}"), "'a'", "string");
        assertRefused(index("{\"weight_map\":{\"a\":\"\"}}"), "'a'");
        assertRefused(index("{\"weight_map\":{\"a\":\".\"}}"), "'a'");
        assertRefused(index("{\"weight_map\":{\"a\":\"x\\u0000y\"}}"), "'a'");
    }

    @Test
    void brokenShardIsReportedWithItsOwnPath() throws Exception {
        Path bad = RawFiles.write(dir.resolve("bad.safetensors"), "{", new byte[0]);
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> Safetensors.open(index("{\"weight_map\":{\"a\":\"bad.safetensors\"}}")).close());
        assertTrue(e.getMessage().contains(bad.getFileName().toString()), e.getMessage());
    }

    @Test
    void missingIndexIsNotFound() {
        assertThrows(NotFoundException.class, () -> Safetensors.open(dir.resolve("nope.safetensors.index.json")));
    }
}
