package dev.merit.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.store.StoreException;
import java.io.IOException;

/** JSON for the coordinator's records and events: one mapper, errors that name the record. */
public final class Json {

    public static final ObjectMapper MAPPER = new ObjectMapper();

    private Json() {}

    public static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    public static byte[] bytes(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    public static ObjectNode parse(String what, byte[] bytes) {
        try {
            JsonNode n = MAPPER.readTree(bytes);
            if (!(n instanceof ObjectNode o)) {
                throw new StoreException(what + " is not a JSON object");
            }
            return o;
        } catch (IOException e) {
            throw new StoreException(what + " is not valid JSON: " + e.getMessage(), e);
        }
    }
}
