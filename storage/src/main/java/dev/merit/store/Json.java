package dev.merit.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/** Canonical JSON for stored objects: the nodes are built in a fixed order, so equal objects hash equally. */
final class Json {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {}

    static byte[] bytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static JsonNode parse(String what, byte[] bytes) {
        try {
            return MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw new StoreException(what + " is not valid JSON: " + e.getMessage(), e);
        }
    }

    static void checkFormat(String what, JsonNode root, int known) {
        int format = root.path("format").asInt(-1);
        if (format != known) {
            throw new StoreException(what + " has format version " + format + "; this Merit reads version " + known);
        }
    }
}
