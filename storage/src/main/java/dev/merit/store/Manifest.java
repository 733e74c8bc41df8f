package dev.merit.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A version's table of tensors. Each tensor is a keyframe (its full bytes as a list of chunks)
 * plus a bounded chain of sparse deltas applied in order, so any version materializes by
 * reading one keyframe and at most {@link Repository#MAX_CHAIN} deltas per tensor, without
 * walking history.
 */
public record Manifest(List<Entry> tensors, Map<String, String> metadata) {

    static final int FORMAT = 1;

    /**
     * @param info       name, dtype, shape
     * @param keyframe   chunk ids whose concatenation is the tensor at its last keyframe
     * @param deltas     delta ids to apply to the keyframe, oldest first
     * @param deltaBytes encoded size of {@code deltas}, for the keyframe policy
     */
    public record Entry(TensorInfo info, List<ObjectId> keyframe, List<ObjectId> deltas, long deltaBytes) {
        public Entry {
            keyframe = List.copyOf(keyframe);
            deltas = List.copyOf(deltas);
        }

        Entry withDelta(ObjectId delta, long bytes) {
            List<ObjectId> d = new ArrayList<>(deltas);
            d.add(delta);
            return new Entry(info, keyframe, d, deltaBytes + bytes);
        }
    }

    public Manifest {
        tensors = List.copyOf(tensors);
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    public Optional<Entry> entry(String name) {
        return tensors.stream().filter(e -> e.info().name().equals(name)).findFirst();
    }

    public List<TensorInfo> layout() {
        return tensors.stream().map(Entry::info).toList();
    }

    byte[] encode() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("format", FORMAT);
        ObjectNode md = root.putObject("metadata");
        metadata.forEach(md::put);
        ArrayNode ts = root.putArray("tensors");
        for (Entry e : tensors) {
            ObjectNode n = ts.addObject();
            n.put("name", e.info().name());
            n.put("dtype", e.info().dtype().safetensorsName());
            ArrayNode shape = n.putArray("shape");
            for (long d : e.info().shape()) {
                shape.add(d);
            }
            ArrayNode chunks = n.putArray("chunks");
            e.keyframe().forEach(id -> chunks.add(id.name()));
            ArrayNode deltas = n.putArray("deltas");
            e.deltas().forEach(id -> deltas.add(id.name()));
            n.put("delta_bytes", e.deltaBytes());
        }
        return Json.bytes(root);
    }

    static Manifest decode(ObjectId id, byte[] bytes) {
        JsonNode root = Json.parse("manifest " + id, bytes);
        Json.checkFormat("manifest " + id, root, FORMAT);
        Map<String, String> md = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.path("metadata").fields(); it.hasNext(); ) {
            var f = it.next();
            md.put(f.getKey(), f.getValue().asText());
        }
        List<Entry> entries = new ArrayList<>();
        for (JsonNode n : root.path("tensors")) {
            long[] shape = new long[n.path("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = n.path("shape").get(i).asLong();
            }
            TensorInfo info = new TensorInfo(n.path("name").asText(), DType.parse(n.path("dtype").asText()), shape);
            entries.add(new Entry(info, ids(n.path("chunks")), ids(n.path("deltas")), n.path("delta_bytes").asLong()));
        }
        return new Manifest(entries, md);
    }

    private static List<ObjectId> ids(JsonNode arr) {
        List<ObjectId> out = new ArrayList<>(arr.size());
        for (JsonNode x : arr) {
            out.add(ObjectId.fromString(x.asText()));
        }
        return out;
    }
}
