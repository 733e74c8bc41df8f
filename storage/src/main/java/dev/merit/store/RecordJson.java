package dev.merit.store;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.type.LogicalType;
import com.fasterxml.jackson.datatype.jdk8.Jdk8Module;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import dev.merit.error.InvalidInputException;
import java.io.IOException;
import java.util.stream.Collectors;

/**
 * Merit's one JSON mapper for records (commit provenance, the coordinator's proposal records and
 * events): Java records by databinding,
 * snake_case field names, instants as ISO-8601 text, absent optionals left out, unknown fields
 * ignored (newer writers may add some) and every declared field required, with errors that name
 * the record and the field. Each serialized record carries a {@value #FORMAT_FIELD} number.
 */
public final class RecordJson {

    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .addModule(new Jdk8Module())
            .addModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .disable(DeserializationFeature.ADJUST_DATES_TO_CONTEXT_TIME_ZONE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_CREATOR_PROPERTIES)
            .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_ABSENT, JsonInclude.Include.NON_ABSENT))
            .withCoercionConfig(LogicalType.Textual, c -> c.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
                    .setCoercion(CoercionInputShape.Float, CoercionAction.Fail).setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
            .build();

    /** The field holding a serialized record's format number. */
    public static final String FORMAT_FIELD = "format";

    private RecordJson() {}

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

    /** {@code value}'s fields after a {@value #FORMAT_FIELD} field holding {@code format}. */
    public static byte[] write(Object value, int format) {
        return bytes(tree(value, format));
    }

    /** {@code value}'s fields after a {@value #FORMAT_FIELD} field holding {@code format}, as a tree. */
    public static ObjectNode tree(Object value, int format) {
        ObjectNode n = object().put(FORMAT_FIELD, format);
        n.setAll((ObjectNode) MAPPER.valueToTree(value));
        return n;
    }

    /** A stored JSON object, or a {@link StoreException} saying why {@code what} is not one. */
    public static ObjectNode parse(String what, byte[] bytes) {
        try {
            return parseObject(what, bytes);
        } catch (InvalidInputException e) {
            throw new StoreException(e.getMessage(), e);
        }
    }

    /** A JSON object, or an {@link InvalidInputException} saying why {@code what} is not one. */
    private static ObjectNode parseObject(String what, byte[] bytes) {
        JsonNode n;
        try {
            n = MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new InvalidInputException(what + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new InvalidInputException(what + " is not valid JSON: " + e.getMessage(), e);
        }
        if (!(n instanceof ObjectNode o)) {
            throw new InvalidInputException(what + " is not a JSON object");
        }
        return o;
    }

    /**
     * The record in {@code bytes}: its format must be one of {@code known} (a record without the
     * field counts as {@code absentMeans}), then its fields bind to {@code type}.
     */
    public static <T> T read(String what, byte[] bytes, Class<T> type, int absentMeans, int... known) {
        return read(what, parseObject(what, bytes), type, absentMeans, known);
    }

    /** As {@link #read(String, byte[], Class, int, int...)}, from a parsed object. */
    public static <T> T read(String what, JsonNode n, Class<T> type, int absentMeans, int... known) {
        int format = n.has(FORMAT_FIELD) ? n.get(FORMAT_FIELD).asInt(-1) : absentMeans;
        if (java.util.Arrays.stream(known).noneMatch(k -> k == format)) {
            throw new InvalidInputException(what + (n.has(FORMAT_FIELD) ? " has format " + n.get(FORMAT_FIELD) : " has no format field")
                    + "; this Merit reads format "
                    + java.util.Arrays.stream(known).mapToObj(Integer::toString).collect(Collectors.joining(" or ")));
        }
        try {
            return MAPPER.treeToValue(n, type);
        } catch (InvalidFormatException e) {
            throw new InvalidInputException(what + ": field '" + field(e) + "' has the invalid value " + e.getValue()
                    + " (expected " + expected(e.getTargetType()) + ")", e);
        } catch (MismatchedInputException e) {
            String f = field(e);
            throw new InvalidInputException(what + ": field '" + f + "' is missing or not " + expected(e.getTargetType()), e);
        } catch (JsonProcessingException e) {
            throw new InvalidInputException(what + ": " + e.getOriginalMessage(), e);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(what + ": " + e.getMessage(), e);
        }
    }

    private static String field(MismatchedInputException e) {
        String path = e.getPath().stream().map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining(".")).replace(".[", "[");
        if (path.isEmpty() && e.getOriginalMessage().contains("'")) {
            // a missing creator property is reported by name, not by path
            String m = e.getOriginalMessage();
            return m.substring(m.indexOf('\'') + 1, m.indexOf('\'', m.indexOf('\'') + 1));
        }
        return path;
    }

    private static String expected(Class<?> type) {
        if (type == null) {
            return "of the right type";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type == java.time.Instant.class) {
            return "an ISO-8601 instant";
        }
        if (type.isEnum()) {
            return "one of " + java.util.Arrays.stream(type.getEnumConstants())
                    .map(c -> c.toString().toLowerCase(java.util.Locale.ROOT)).collect(Collectors.joining(", "));
        }
        if (java.util.Collection.class.isAssignableFrom(type)) {
            return "an array";
        }
        return "a " + type.getSimpleName().toLowerCase(java.util.Locale.ROOT);
    }
}
