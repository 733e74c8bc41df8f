package dev.merit.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A checkpoint split over several safetensors files and described by a
 * {@code *.safetensors.index.json} ({@code {"metadata": {...}, "weight_map": {tensor: file}}}).
 * The index's {@code metadata} (strings, without {@code total_size}) is the checkpoint's
 * {@link #metadata()}; shard files must sit in the index's folder or below it.
 */
public final class ShardedSafetensors implements TensorSource {

    public static final String INDEX_SUFFIX = ".safetensors.index.json";

    /** Index metadata key holding the data size, as Hugging Face writes it; not part of {@link #metadata()}. */
    static final String TOTAL_SIZE = "total_size";

    private final Path index;
    private final Map<String, SafetensorsFile> shardOf;
    private final List<SafetensorsFile> shards;
    private final List<TensorInfo> infos;
    private final Map<String, String> metadata;

    private ShardedSafetensors(Path index, Map<String, SafetensorsFile> shardOf, List<SafetensorsFile> shards,
                               Map<String, String> metadata) {
        this.index = index;
        this.shardOf = shardOf;
        this.shards = shards;
        this.metadata = metadata;
        List<TensorInfo> all = new ArrayList<>();
        shardOf.forEach((name, f) -> all.add(f.info(name).orElseThrow()));
        this.infos = Collections.unmodifiableList(all);
    }

    /**
     * Opens the index and every shard it names. A malformed index, a shard outside the index's
     * folder, a missing shard or a tensor missing from its shard is an {@link InvalidInputException}
     * naming the index; a missing index is a {@link NotFoundException}.
     */
    public static ShardedSafetensors open(Path index) {
        JsonNode root;
        try {
            root = SafetensorsFile.JSON.readTree(Files.readAllBytes(index));
        } catch (NoSuchFileException e) {
            throw new NotFoundException(index + ": no such file");
        } catch (JsonProcessingException e) {
            throw new InvalidInputException(index + ": invalid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new UncheckedIOException(index + ": " + e.getMessage(), e);
        }
        if (root == null || !root.isObject() || !root.path("weight_map").isObject()) {
            throw new InvalidInputException(index + ": missing 'weight_map' object");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        JsonNode md = root.path("metadata");
        for (Iterator<Map.Entry<String, JsonNode>> it = md.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals(TOTAL_SIZE)) {
                continue; // describes the index, not the model: recomputed on write
            }
            metadata.put(e.getKey(), e.getValue().isTextual() ? e.getValue().textValue() : e.getValue().toString());
        }
        Path dir = index.toAbsolutePath().normalize().getParent();
        Map<Path, SafetensorsFile> files = new LinkedHashMap<>();
        Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = root.get("weight_map").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String where = index + ": tensor '" + e.getKey() + "'";
                if (!e.getValue().isTextual()) {
                    throw new InvalidInputException(where + ": shard must be a string file name, not " + e.getValue());
                }
                String file = e.getValue().textValue();
                Path shardPath = resolveShard(dir, file, where);
                SafetensorsFile shard = files.get(shardPath);
                if (shard == null) {
                    if (!Files.isRegularFile(shardPath)) {
                        throw new InvalidInputException(where + ": shard file '" + file + "' does not exist");
                    }
                    shard = SafetensorsFile.open(shardPath);
                    files.put(shardPath, shard);
                }
                if (shard.info(e.getKey()).isEmpty()) {
                    throw new InvalidInputException(where + " is not in shard " + file);
                }
                shardOf.put(e.getKey(), shard);
            }
        } catch (RuntimeException e) {
            files.values().forEach(SafetensorsFile::close);
            throw e;
        }
        return new ShardedSafetensors(index, shardOf, new ArrayList<>(files.values()), Collections.unmodifiableMap(metadata));
    }

    /** Resolves a weight_map entry against the index's folder, refusing anything that leaves it. */
    private static Path resolveShard(Path dir, String file, String where) {
        Path shardPath;
        try {
            shardPath = dir.resolve(file).normalize();
        } catch (InvalidPathException e) {
            throw new InvalidInputException(where + ": invalid shard file name '" + file.replace("\0", "\\0") + "'");
        }
        if (!shardPath.startsWith(dir) || shardPath.equals(dir)) {
            throw new InvalidInputException(where + " points outside the index's folder: '" + file + "'");
        }
        return shardPath;
    }

    @Override
    public List<TensorInfo> tensors() {
        return infos;
    }

    @Override
    public Optional<TensorInfo> info(String name) {
        SafetensorsFile f = shardOf.get(name);
        return f == null ? Optional.empty() : f.info(name);
    }

    @Override
    public MemorySegment data(String name) {
        SafetensorsFile f = shardOf.get(name);
        if (f == null) {
            throw new NotFoundException(index + ": no tensor '" + name + "'");
        }
        return f.data(name);
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public String describe() {
        return index.toString();
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }

    /**
     * Writes {@code source} as shards of at most {@code maxShardBytes} of tensor data (a tensor
     * larger than that gets a shard of its own) plus {@code <prefix>.safetensors.index.json}.
     */
    public static Path write(TensorSource source, Path dir, String prefix, long maxShardBytes) {
        List<List<TensorInfo>> groups = new ArrayList<>();
        List<TensorInfo> current = new ArrayList<>();
        long bytes = 0;
        for (TensorInfo t : source.tensors()) {
            if (!current.isEmpty() && bytes + t.byteSize() > maxShardBytes) {
                groups.add(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(t);
            bytes += t.byteSize();
        }
        if (!current.isEmpty()) {
            groups.add(current);
        }
        Map<String, String> weightMap = new TreeMap<>();
        long total = 0;
        for (int i = 0; i < groups.size(); i++) {
            String file = String.format("%s-%05d-of-%05d.safetensors", prefix, i + 1, groups.size());
            List<TensorInfo> group = groups.get(i);
            try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve(file), group, Map.of())) {
                for (TensorInfo t : group) {
                    MemorySegment.copy(source.data(t.name()), 0, w.segment(t.name()), 0, t.byteSize());
                    weightMap.put(t.name(), file);
                    total += t.byteSize();
                }
                w.finish();
            }
        }
        ObjectNode root = SafetensorsFile.JSON.createObjectNode();
        ObjectNode md = root.putObject("metadata");
        source.metadata().forEach((k, v) -> {
            if (!k.equals(TOTAL_SIZE)) {
                md.put(k, v);
            }
        });
        md.put(TOTAL_SIZE, total);
        ObjectNode wm = root.putObject("weight_map");
        weightMap.forEach(wm::put);
        Path indexPath = dir.resolve(prefix + INDEX_SUFFIX);
        try {
            Files.write(indexPath, SafetensorsFile.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
        } catch (IOException e) {
            throw new UncheckedIOException(indexPath + ": " + e.getMessage(), e);
        }
        return indexPath;
    }
}
