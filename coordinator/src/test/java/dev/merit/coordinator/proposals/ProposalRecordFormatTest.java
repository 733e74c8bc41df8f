package dev.merit.coordinator.proposals;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.coordinator.Json;
import dev.merit.coordinator.validate.CheckResult;
import dev.merit.error.InvalidInputException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * Proposal records as stored: typed fields through the one mapper, a format number, and records
 * written by earlier coordinators (kept in test resources) still read.
 */
class ProposalRecordFormatTest {

    private static byte[] resource(String name) throws Exception {
        try (InputStream in = ProposalRecordFormatTest.class.getResourceAsStream("/records/" + name)) {
            return in.readAllBytes();
        }
    }

    @Test
    void aRecordWrittenByTheFieldByFieldWriterOfFormatOneStillReads() throws Exception {
        ProposalRecord r = ProposalRecord.fromJson(resource("proposal-format1.json"));
        assertEquals("p12", r.id());
        assertEquals(ProposalRecord.Status.MERGED, r.status());
        assertEquals(300, r.exampleCount());
        assertEquals(0.5773502691896258, r.stalenessWeight());
        assertEquals(Instant.parse("2026-11-30T10:15:30.123Z"), r.created());
        assertEquals(Optional.of("aa11bb22cc33dd44ee55ff6600aa11bb22cc33dd44ee55ff6600aa11bb22cc33"), r.mergedIn());
        assertEquals(Optional.empty(), r.review(), "an absent field is an empty optional");
        assertEquals(new CheckResult("signature", true, "Ed25519, key 1a2b3c4d5e6f7081"), r.checks().get(1));
        assertEquals(List.of("fc1.weight", "fc2.bias"), r.tensors());
        // Written again, it is the same document: the layout did not change, only how it is produced.
        assertEquals(Json.MAPPER.readTree(resource("proposal-format1.json")), Json.MAPPER.readTree(r.toJson()));
    }

    @Test
    void aRecordRoundTripsWithItsFormatFirstAndSnakeCaseFields() throws Exception {
        ProposalRecord r = new ProposalRecord("p1", "main", "bob", "ab", ProposalRecord.Status.REJECTED, List.of("stale"),
                List.of(CheckResult.pass("duplicate", "new")), "dd", 0, 0, 0, false, 0, 0, 0, 10, "m",
                Instant.parse("2026-12-01T00:00:00Z"), Optional.empty(), Optional.of("rejected by admin"), List.of("w"));
        JsonNode n = Json.MAPPER.readTree(r.toJson());
        assertEquals("format", n.fieldNames().next());
        assertEquals(1, n.get("format").asInt());
        assertEquals("rejected", n.get("status").asText());
        assertTrue(n.has("base_version") && n.has("staleness_weight") && !n.has("merged_in"), n.toString());
        assertEquals(r, ProposalRecord.fromJson(r.toJson()));
    }

    @Test
    void unknownFormatsAndBadFieldsAreRefusedByName() throws Exception {
        String old = new String(resource("proposal-format1.json"), StandardCharsets.UTF_8);
        InvalidInputException future = assertThrows(InvalidInputException.class,
                () -> ProposalRecord.fromJson(old.replace("\"format\":1", "\"format\":2").getBytes(StandardCharsets.UTF_8)));
        assertEquals("proposal record has format 2; this Merit reads format 1", future.getMessage());
        InvalidInputException none = assertThrows(InvalidInputException.class,
                () -> ProposalRecord.fromJson(old.replace("\"format\":1,", "").getBytes(StandardCharsets.UTF_8)));
        assertEquals("proposal record has no format field; this Merit reads format 1", none.getMessage());
        InvalidInputException status = assertThrows(InvalidInputException.class,
                () -> ProposalRecord.fromJson(old.replace("\"merged\"", "\"lost\"").getBytes(StandardCharsets.UTF_8)));
        assertEquals("proposal record: field 'status' has the invalid value lost (expected one of accepted, rejected, merged)",
                status.getMessage());
        InvalidInputException missing = assertThrows(InvalidInputException.class,
                () -> ProposalRecord.fromJson(old.replace("\"branch\":\"main\",", "").getBytes(StandardCharsets.UTF_8)));
        assertEquals("proposal record: field 'branch' is missing or not a string", missing.getMessage());
    }
}
