package dev.merit.coordinator;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.store.RecordJson;

/**
 * JSON for the coordinator's records and events: the one configured mapper of {@link RecordJson}
 * (records by databinding, snake_case, ISO-8601 instants, a format number on each record).
 */
public final class Json {

    public static final ObjectMapper MAPPER = RecordJson.MAPPER;

    private Json() {}

    public static ObjectNode object() {
        return RecordJson.object();
    }

    public static byte[] bytes(JsonNode node) {
        return RecordJson.bytes(node);
    }

    /** {@code value}'s fields after a {@code format} field. */
    public static byte[] write(Object value, int format) {
        return RecordJson.write(value, format);
    }

    /** {@code value}'s fields after a {@code format} field, as a tree. */
    public static ObjectNode tree(Object value, int format) {
        return RecordJson.tree(value, format);
    }

    /** A stored JSON object; a {@link dev.merit.store.StoreException} names {@code what} if it is not one. */
    public static ObjectNode parse(String what, byte[] bytes) {
        return RecordJson.parse(what, bytes);
    }

    /** The record in {@code bytes}, of a known format; errors name {@code what} and the field. */
    public static <T> T read(String what, byte[] bytes, Class<T> type, int absentMeans, int... known) {
        return RecordJson.read(what, bytes, type, absentMeans, known);
    }

    /** As {@link #read(String, byte[], Class, int, int...)}, from a parsed object. */
    public static <T> T read(String what, JsonNode node, Class<T> type, int absentMeans, int... known) {
        return RecordJson.read(what, node, type, absentMeans, known);
    }
}
