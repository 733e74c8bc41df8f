package dev.merit.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A version of the model: its manifest, parents, who made it and why, and provenance (how it
 * was made: options, merge strategy, software). {@code storedBytes} is what the commit added to
 * the store besides the commit object itself (new chunks, deltas, manifest). {@code fisher} and
 * {@code gram} name optional attached manifests: a diagonal Fisher (same layout as the model) and
 * RegMean Gram matrices (one packed upper triangle per linear layer, named like its weight).
 */
public record Commit(ObjectId manifest, List<ObjectId> parents, String author, Instant time, String message,
                     Optional<ObjectId> fisher, Optional<ObjectId> gram, ObjectNode provenance, long storedBytes) {

    static final int FORMAT = 1;

    public Commit {
        parents = List.copyOf(parents);
        provenance = provenance == null ? JsonNodeFactory.instance.objectNode() : provenance.deepCopy();
    }

    /** The manifest ids this commit references: its version, then the Fisher and Gram matrices when attached. */
    public List<ObjectId> manifests() {
        List<ObjectId> ms = new ArrayList<>(3);
        ms.add(manifest);
        fisher.ifPresent(ms::add);
        gram.ifPresent(ms::add);
        return ms;
    }

    @Override
    public ObjectNode provenance() {
        return provenance.deepCopy();
    }

    byte[] encode() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("format", FORMAT);
        root.put("manifest", manifest.name());
        ArrayNode ps = root.putArray("parents");
        parents.forEach(p -> ps.add(p.name()));
        root.put("author", author);
        root.put("time", time.toString());
        root.put("message", message);
        fisher.ifPresent(f -> root.put("fisher", f.name()));
        gram.ifPresent(g -> root.put("gram", g.name()));
        root.set("provenance", provenance);
        root.put("stored_bytes", storedBytes);
        return Json.bytes(root);
    }

    static Commit decode(ObjectId id, byte[] bytes) {
        JsonNode root = Json.parse("commit " + id, bytes);
        Json.checkFormat("commit " + id, root, FORMAT);
        List<ObjectId> parents = new ArrayList<>();
        root.path("parents").forEach(p -> parents.add(ObjectId.fromString(p.asText())));
        Optional<ObjectId> fisher = root.hasNonNull("fisher")
                ? Optional.of(ObjectId.fromString(root.get("fisher").asText())) : Optional.empty();
        Optional<ObjectId> gram = root.hasNonNull("gram")
                ? Optional.of(ObjectId.fromString(root.get("gram").asText())) : Optional.empty();
        JsonNode prov = root.path("provenance");
        return new Commit(ObjectId.fromString(root.path("manifest").asText()), parents,
                root.path("author").asText(), Instant.parse(root.path("time").asText()),
                root.path("message").asText(), fisher, gram,
                prov.isObject() ? (ObjectNode) prov : JsonNodeFactory.instance.objectNode(),
                root.path("stored_bytes").asLong());
    }
}
