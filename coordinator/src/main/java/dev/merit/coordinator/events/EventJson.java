package dev.merit.coordinator.events;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.InvalidInputException;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;

/** Reading and writing the events' JSON, with errors that name the event and the field. */
final class EventJson {

    static final ObjectMapper MAPPER = new ObjectMapper();

    private EventJson() {}

    static byte[] bytes(ObjectNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (IOException e) {
            throw new IllegalStateException("cannot serialize an event", e);
        }
    }

    static ObjectNode object() {
        return MAPPER.createObjectNode();
    }

    static ArrayNode array(List<String> values) {
        ArrayNode a = MAPPER.createArrayNode();
        values.forEach(a::add);
        return a;
    }

    static JsonNode parse(String what, byte[] bytes) {
        JsonNode root;
        try {
            root = MAPPER.readTree(bytes);
        } catch (IOException e) {
            throw new InvalidInputException(what + " is not valid JSON: " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()), e);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidInputException(what + " is not a JSON object");
        }
        return root;
    }

    static String text(String what, JsonNode root, String field) {
        JsonNode n = root.get(field);
        if (n == null || !n.isTextual()) {
            throw new InvalidInputException(what + ": field '" + field + "' is missing or not a string");
        }
        return n.asText();
    }

    static List<String> texts(String what, JsonNode root, String field) {
        JsonNode n = root.get(field);
        if (n == null || !n.isArray()) {
            throw new InvalidInputException(what + ": field '" + field + "' is missing or not an array");
        }
        List<String> out = new ArrayList<>(n.size());
        for (JsonNode e : n) {
            if (!e.isTextual()) {
                throw new InvalidInputException(what + ": field '" + field + "' holds a non-string element");
            }
            out.add(e.asText());
        }
        return List.copyOf(out);
    }

    static Instant time(String what, JsonNode root, String field) {
        String t = text(what, root, field);
        try {
            return Instant.parse(t);
        } catch (DateTimeParseException e) {
            throw new InvalidInputException(what + ": field '" + field + "' is not an ISO-8601 instant: " + t, e);
        }
    }
}
