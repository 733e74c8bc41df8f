package dev.merit.coordinator.proposals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.coordinator.Json;
import dev.merit.coordinator.events.ProposalEvent;
import dev.merit.coordinator.validate.CheckResult;
import dev.merit.store.StoreException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A stored proposal: its header facts, validation verdicts and where it stands. Immutable;
 * status changes make a new record, written in the same batch as what caused them.
 *
 * @param tensors names of the changed tensors, in payload order (their data lives in separate records)
 */
public record ProposalRecord(String id, String branch, String contributor, String baseVersion, Status status,
                             List<String> reasons, List<CheckResult> checks, String digest, long staleness,
                             double stalenessWeight, long exampleCount, boolean hasFisher, long entries, double density,
                             double norm, long payloadBytes, String message, Instant created, Optional<String> mergedIn,
                             Optional<String> review, List<String> tensors) {

    static final int FORMAT = 1;

    public enum Status { ACCEPTED, REJECTED, MERGED }

    public ProposalRecord {
        reasons = List.copyOf(reasons);
        checks = List.copyOf(checks);
        tensors = List.copyOf(tensors);
    }

    /** The merge weight: staleness weight times the example count (1 if unknown). */
    public double weight() {
        return stalenessWeight * (exampleCount > 0 ? exampleCount : 1);
    }

    public ProposalRecord merged(String commit) {
        return new ProposalRecord(id, branch, contributor, baseVersion, Status.MERGED, reasons, checks, digest, staleness,
                stalenessWeight, exampleCount, hasFisher, entries, density, norm, payloadBytes, message, created,
                Optional.of(commit), review, tensors);
    }

    /** Rejected after acceptance because merging it would break the model; {@code reason} says how. */
    public ProposalRecord refused(String reason) {
        List<String> rs = new ArrayList<>(reasons);
        rs.add(reason);
        return new ProposalRecord(id, branch, contributor, baseVersion, Status.REJECTED, rs, checks, digest, staleness,
                stalenessWeight, exampleCount, hasFisher, entries, density, norm, payloadBytes, message, created,
                mergedIn, review, tensors);
    }

    public ProposalRecord reviewed(boolean approved, String reviewer, String text) {
        String r = (approved ? "approved by " : "rejected by ") + reviewer + (text == null || text.isBlank() ? "" : ": " + text);
        List<String> rs = new ArrayList<>(reasons);
        Status s = status;
        if (!approved) {
            rs.add("rejected in review by " + reviewer + (text == null || text.isBlank() ? "" : ": " + text));
            s = Status.REJECTED;
        }
        return new ProposalRecord(id, branch, contributor, baseVersion, s, rs, checks, digest, staleness,
                stalenessWeight, exampleCount, hasFisher, entries, density, norm, payloadBytes, message, created,
                mergedIn, Optional.of(r), tensors);
    }

    public ObjectNode toJson() {
        ObjectNode n = Json.object();
        n.put("format", FORMAT);
        n.put("id", id);
        n.put("branch", branch);
        n.put("contributor", contributor);
        n.put("base_version", baseVersion);
        n.put("status", status.name().toLowerCase());
        ArrayNode rs = n.putArray("reasons");
        reasons.forEach(rs::add);
        n.set("checks", checksJson(checks));
        n.put("digest", digest);
        n.put("staleness", staleness);
        n.put("staleness_weight", stalenessWeight);
        n.put("example_count", exampleCount);
        n.put("has_fisher", hasFisher);
        n.put("entries", entries);
        n.put("density", density);
        n.put("norm", norm);
        n.put("payload_bytes", payloadBytes);
        n.put("message", message);
        n.put("created", created.toString());
        mergedIn.ifPresent(m -> n.put("merged_in", m));
        review.ifPresent(r -> n.put("review", r));
        ArrayNode ts = n.putArray("tensors");
        tensors.forEach(ts::add);
        return n;
    }

    public static ArrayNode checksJson(List<CheckResult> checks) {
        ArrayNode cs = Json.MAPPER.createArrayNode();
        for (CheckResult c : checks) {
            cs.addObject().put("name", c.name()).put("passed", c.passed()).put("detail", c.detail());
        }
        return cs;
    }

    static ProposalRecord fromJson(byte[] bytes) {
        ObjectNode n = Json.parse("proposal record", bytes);
        int format = n.path("format").asInt(-1);
        if (format != FORMAT) {
            throw new StoreException("proposal record has format " + format + "; this coordinator reads format " + FORMAT);
        }
        List<String> reasons = new ArrayList<>();
        n.path("reasons").forEach(r -> reasons.add(r.asText()));
        List<CheckResult> checks = new ArrayList<>();
        n.path("checks").forEach(c -> checks.add(new CheckResult(c.path("name").asText(), c.path("passed").asBoolean(), c.path("detail").asText())));
        List<String> tensors = new ArrayList<>();
        n.path("tensors").forEach(t -> tensors.add(t.asText()));
        return new ProposalRecord(n.path("id").asText(), n.path("branch").asText(), n.path("contributor").asText(),
                n.path("base_version").asText(), Status.valueOf(n.path("status").asText().toUpperCase()), reasons, checks,
                n.path("digest").asText(), n.path("staleness").asLong(), n.path("staleness_weight").asDouble(),
                n.path("example_count").asLong(), n.path("has_fisher").asBoolean(), n.path("entries").asLong(),
                n.path("density").asDouble(), n.path("norm").asDouble(), n.path("payload_bytes").asLong(),
                n.path("message").asText(), Instant.parse(n.path("created").asText()), opt(n, "merged_in"), opt(n, "review"), tensors);
    }

    private static Optional<String> opt(JsonNode n, String field) {
        return n.hasNonNull(field) ? Optional.of(n.get(field).asText()) : Optional.empty();
    }

    /** The payload of the {@code merit.proposals} event (accepted or rejected proposals only). */
    public byte[] eventJson() {
        ProposalEvent.Status st = status == Status.REJECTED ? ProposalEvent.Status.REJECTED : ProposalEvent.Status.ACCEPTED;
        return new ProposalEvent(id, branch, contributor, st, reasons, digest, baseVersion, Instant.now()).toJson();
    }
}
