package dev.merit.safetensors;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A memory-mapped safetensors file. The header is parsed and checked when the file is opened;
 * tensor bytes are only touched when a caller reads the segment returned by {@link #data}.
 * Works for files and single tensors over 2 GiB.
 *
 * <p>Every structural problem (short file, header length past the end, invalid JSON, unknown
 * dtype, offsets out of range, overlapping or not matching dtype x shape, oversized header) is
 * reported as an {@link InvalidInputException} whose message starts with the file's path.
 */
public final class SafetensorsFile implements TensorSource {

    /** Headers larger than this are refused before any allocation. */
    public static final long MAX_HEADER_BYTES = 100L * 1000 * 1000;

    static final String METADATA_KEY = "__metadata__";
    // Duplicate keys and anything after the top-level value are refused: both would let two
    // readers of the same file disagree about its contents.
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final List<TensorInfo> infos;
    private final Map<String, String> metadata;

    private record Entry(TensorInfo info, long begin, long end) {}

    private SafetensorsFile(Path path, Arena arena, MemorySegment file, long dataStart,
                            Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.dataStart = dataStart;
        this.entries = entries;
        this.infos = entries.values().stream().map(Entry::info).toList();
        this.metadata = metadata;
    }

    /** Opens and validates {@code path}; throws {@link NotFoundException} if it does not exist. */
    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment file = size == 0 ? MemorySegment.NULL.reinterpret(0)
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            SafetensorsFile f = parse(path, arena, file);
            return f;
        } catch (NoSuchFileException e) {
            arena.close();
            throw new NotFoundException(path + ": no such file");
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException(path + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Parses safetensors bytes already in memory, naming them {@code path} in messages; the
     * mutation tests use it to check tens of thousands of variants without touching the disk.
     */
    static SafetensorsFile parse(Path path, MemorySegment content) {
        Arena arena = Arena.ofConfined();
        try {
            return parse(path, arena, content);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, Arena arena, MemorySegment file) {
        long size = file.byteSize();
        if (size < 8) {
            throw bad(path, "file is " + size + " bytes, too short for the 8-byte header length");
        }
        long headerLen = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
            throw bad(path, "header length " + Long.toUnsignedString(headerLen) + " exceeds the "
                    + MAX_HEADER_BYTES + "-byte limit");
        }
        if (headerLen > size - 8) {
            throw bad(path, "header length " + headerLen + " runs past the end of the file ("
                    + size + " bytes)");
        }
        byte[] header = file.asSlice(8, headerLen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode root;
        try {
            root = JSON.readTree(header);
        } catch (JsonProcessingException e) {
            throw bad(path, "invalid JSON header: " + e.getOriginalMessage()
                    + (e.getLocation() != null ? " at header byte " + e.getLocation().getByteOffset() : ""));
        } catch (IOException e) {
            throw bad(path, "unreadable JSON header: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw bad(path, "header is not a JSON object");
        }
        long dataStart = 8 + headerLen;
        long dataSize = size - dataStart;
        Map<String, String> metadata = Map.of();
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String name = field.getKey();
            JsonNode node = field.getValue();
            if (name.equals(METADATA_KEY)) {
                metadata = parseMetadata(path, node);
                continue;
            }
            entries.put(name, parseEntry(path, name, node, dataSize));
        }
        checkOverlaps(path, entries);
        return new SafetensorsFile(path, arena, file, dataStart, Collections.unmodifiableMap(entries), metadata);
    }

    private static Map<String, String> parseMetadata(Path path, JsonNode node) {
        if (!node.isObject()) {
            throw bad(path, "__metadata__ is not a JSON object");
        }
        Map<String, String> md = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw bad(path, "__metadata__ value for '" + e.getKey() + "' is not a string");
            }
            md.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(md);
    }

    private static Entry parseEntry(Path path, String name, JsonNode node, long dataSize) {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw bad(path, where + ": entry is not a JSON object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw bad(path, where + ": missing or non-string 'dtype'");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.textValue())
                .orElseThrow(() -> bad(path, where + ": unknown dtype '" + dtypeNode.textValue() + "'"));
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw bad(path, where + ": missing or non-array 'shape'");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.longValue() < 0) {
                throw bad(path, where + ": shape dimension " + i + " is not a non-negative integer: " + d);
            }
            shape[i] = d.longValue();
        }
        JsonNode offs = node.get("data_offsets");
        if (offs == null || !offs.isArray() || offs.size() != 2
                || !offs.get(0).isIntegralNumber() || !offs.get(1).isIntegralNumber()
                || !offs.get(0).canConvertToLong() || !offs.get(1).canConvertToLong()) {
            throw bad(path, where + ": 'data_offsets' must be an array of two integers");
        }
        long begin = offs.get(0).longValue();
        long end = offs.get(1).longValue();
        if (begin < 0 || end < begin || end > dataSize) {
            throw bad(path, where + ": data_offsets [" + begin + ", " + end + "] out of range (data section is "
                    + dataSize + " bytes)");
        }
        TensorInfo info = new TensorInfo(name, dtype, shape);
        long expected;
        try {
            expected = info.byteSize();
        } catch (ArithmeticException e) {
            throw bad(path, where + ": shape " + info.shapeString() + " overflows 64-bit size");
        }
        if (end - begin != expected) {
            throw bad(path, where + ": data_offsets [" + begin + ", " + end + "] span " + (end - begin)
                    + " bytes but " + dtype + " x " + info.shapeString() + " needs " + expected);
        }
        return new Entry(info, begin, end);
    }

    private static void checkOverlaps(Path path, Map<String, Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        Entry prev = null;
        for (Entry e : sorted) {
            if (e.begin() == e.end()) {
                continue; // empty tensors occupy no bytes and cannot overlap
            }
            if (prev != null && e.begin() < prev.end()) {
                throw bad(path, "tensors '" + prev.info().name() + "' [" + prev.begin() + ", " + prev.end()
                        + "] and '" + e.info().name() + "' [" + e.begin() + ", " + e.end() + "] overlap");
            }
            prev = e;
        }
    }

    private static InvalidInputException bad(Path path, String problem) {
        return new InvalidInputException(path + ": " + problem);
    }

    public Path path() {
        return path;
    }

    @Override
    public List<TensorInfo> tensors() {
        return infos;
    }

    @Override
    public Optional<TensorInfo> info(String name) {
        Entry e = entries.get(name);
        return e == null ? Optional.empty() : Optional.of(e.info());
    }

    @Override
    public MemorySegment data(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new NotFoundException(path + ": no tensor '" + name + "'");
        }
        return file.asSlice(dataStart + e.begin(), e.end() - e.begin());
    }

    /** Offset of the tensor's first byte from the start of the file. */
    public long fileOffset(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new NotFoundException(path + ": no tensor '" + name + "'");
        }
        return dataStart + e.begin();
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String describe() {
        return path.toString();
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
    }

    /** Builds the header JSON for tensors laid out back to back in the given order. */
    static byte[] headerBytes(List<TensorInfo> infos, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode md = root.putObject(METADATA_KEY);
            metadata.forEach(md::put);
        }
        long offset = 0;
        for (TensorInfo t : infos) {
            ObjectNode n = root.putObject(t.name());
            n.put("dtype", t.dtype().safetensorsName());
            var shape = n.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            var offs = n.putArray("data_offsets");
            offs.add(offset);
            offset += t.byteSize();
            offs.add(offset);
        }
        try {
            byte[] json = JSON.writeValueAsBytes(root);
            // Pad with spaces so the data section starts 8-byte aligned, as the format recommends.
            int padded = (json.length + 7) & ~7;
            byte[] out = new byte[padded];
            System.arraycopy(json, 0, out, 0, json.length);
            java.util.Arrays.fill(out, json.length, padded, (byte) ' ');
            return out;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
