package dev.merit.coordinator.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.coordinator.Json;
import dev.merit.error.InvalidInputException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The event payloads' JSON: field names as documented, round trips, and errors naming the field. */
class EventJsonTest {

    private static final Instant T = Instant.parse("2026-03-04T05:06:07.089Z");

    @Test
    void aProposalEventHasTheDocumentedFieldsAndRoundTrips() throws Exception {
        var e = new ProposalEvent("p7", "main", "bob", ProposalEvent.Status.REJECTED,
                List.of("stale: base v3, head v9", "non-finite values in fc1.weight"), "sha256:ff", "v3", T);
        JsonNode n = Json.MAPPER.readTree(e.toJson());
        assertEquals(List.of("format", "proposal_id", "branch", "contributor", "status", "reasons", "digest", "base_version", "time"),
                iterable(n.fieldNames()));
        assertEquals("rejected", n.get("status").asText());
        assertEquals("2026-03-04T05:06:07.089Z", n.get("time").asText());
        assertEquals(e, ProposalEvent.parse(e.toJson()));
    }

    @Test
    void aVersionEventHasTheDocumentedFieldsAndRoundTrips() throws Exception {
        var e = new VersionEvent("exp", "c2", List.of("c1", "c0"), List.of("p1", "p2"), "ties", T);
        JsonNode n = Json.MAPPER.readTree(e.toJson());
        assertEquals(List.of("format", "branch", "commit", "parents", "proposals", "strategy", "time"), iterable(n.fieldNames()));
        assertEquals(e, VersionEvent.parse(e.toJson()));
    }

    @Test
    void aMergedProposalEventAsTheProposalServiceWritesItParses() {
        String json = "{\"proposal_id\":\"p3\",\"branch\":\"main\",\"contributor\":\"carol\",\"status\":\"merged\","
                + "\"reasons\":[],\"digest\":\"d\",\"base_version\":\"abc123\",\"time\":\"2026-03-04T05:06:07.089123Z\"}";
        ProposalEvent e = ProposalEvent.parse(json.getBytes(StandardCharsets.UTF_8));
        assertEquals(ProposalEvent.Status.MERGED, e.status());
        assertEquals(Instant.parse("2026-03-04T05:06:07.089123Z"), e.time());
    }

    @Test
    void unknownFieldsAreIgnoredForForwardCompatibility() {
        String json = "{\"branch\":\"main\",\"commit\":\"c\",\"parents\":[],\"proposals\":[],\"strategy\":\"s\","
                + "\"time\":\"2026-03-04T05:06:07Z\",\"added_later\":42}";
        assertEquals("c", VersionEvent.parse(json.getBytes(StandardCharsets.UTF_8)).commit());
    }

    @Test
    void malformedEventsAreRefusedWithTheFieldNamed() {
        assertMessage("field 'commit' is missing", () -> VersionEvent.parse("{\"branch\":\"main\"}".getBytes()));
        assertMessage("not valid JSON", () -> VersionEvent.parse("{".getBytes()));
        assertMessage("not a JSON object", () -> VersionEvent.parse("[1]".getBytes()));
        String badTime = "{\"branch\":\"main\",\"commit\":\"c\",\"parents\":[],\"proposals\":[],\"strategy\":\"s\",\"time\":\"yesterday\"}";
        assertMessage("field 'time' has the invalid value yesterday (expected an ISO-8601 instant)", () -> VersionEvent.parse(badTime.getBytes()));
        String badStatus = new String(new ProposalEvent("p", "b", "c", ProposalEvent.Status.ACCEPTED, List.of(), "d", "v", T)
                .toJson(), StandardCharsets.UTF_8).replace("accepted", "maybe");
        assertMessage("field 'status' has the invalid value maybe (expected one of accepted, rejected, merged)", () -> ProposalEvent.parse(badStatus.getBytes()));
        String badReasons = badStatus.replace("\"maybe\"", "\"rejected\"").replace("\"reasons\":[]", "\"reasons\":[1]");
        assertMessage("field 'reasons[0]' has the invalid value 1 (expected a string)", () -> ProposalEvent.parse(badReasons.getBytes()));
        String future = new String(new VersionEvent("main", "c", List.of(), List.of(), "s", T).toJson(), StandardCharsets.UTF_8)
                .replace("\"format\":1", "\"format\":7");
        assertMessage("version event has format 7; this Merit reads format 1", () -> VersionEvent.parse(future.getBytes()));
    }

    private static void assertMessage(String part, org.junit.jupiter.api.function.Executable call) {
        var e = assertThrows(InvalidInputException.class, call);
        assertTrue(e.getMessage().contains(part), e.getMessage());
    }

    private static List<String> iterable(java.util.Iterator<String> it) {
        List<String> out = new java.util.ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }
}
