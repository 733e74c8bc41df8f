package dev.merit.coordinator.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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
        JsonNode n = EventJson.MAPPER.readTree(e.toJson());
        assertEquals(List.of("proposal_id", "branch", "contributor", "status", "reasons", "digest", "base_version", "time"),
                iterable(n.fieldNames()));
        assertEquals("rejected", n.get("status").asText());
        assertEquals("2026-03-04T05:06:07.089Z", n.get("time").asText());
        assertEquals(e, ProposalEvent.parse(e.toJson()));
    }

    @Test
    void aVersionEventHasTheDocumentedFieldsAndRoundTrips() throws Exception {
        var e = new VersionEvent("exp", "c2", List.of("c1", "c0"), List.of("p1", "p2"), "ties", T);
        JsonNode n = EventJson.MAPPER.readTree(e.toJson());
        assertEquals(List.of("branch", "commit", "parents", "proposals", "strategy", "time"), iterable(n.fieldNames()));
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
        assertMessage("field 'time' is not an ISO-8601 instant: yesterday", () -> VersionEvent.parse(badTime.getBytes()));
        String badStatus = new String(new ProposalEvent("p", "b", "c", ProposalEvent.Status.ACCEPTED, List.of(), "d", "v", T)
                .toJson(), StandardCharsets.UTF_8).replace("accepted", "maybe");
        assertMessage("unknown status 'maybe'", () -> ProposalEvent.parse(badStatus.getBytes()));
        String badReasons = badStatus.replace("\"maybe\"", "\"rejected\"").replace("\"reasons\":[]", "\"reasons\":[1]");
        assertMessage("field 'reasons' holds a non-string element", () -> ProposalEvent.parse(badReasons.getBytes()));
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
