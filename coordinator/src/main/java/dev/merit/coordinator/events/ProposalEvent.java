package dev.merit.coordinator.events;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.error.InvalidInputException;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A proposal's outcome, published on {@link Topics#PROPOSALS} keyed by {@link #proposalId}. JSON:
 * {@code {"proposal_id","branch","contributor","status":"accepted"|"rejected"|"merged","reasons":[..],
 * "digest","base_version","time"}} with {@code time} an ISO-8601 instant.
 */
public record ProposalEvent(String proposalId, String branch, String contributor, Status status,
                            List<String> reasons, String digest, String baseVersion, Instant time) {

    /** Accepted and rejected when validated; a proposal merged into a version gets a second event, merged. */
    public enum Status {
        ACCEPTED, REJECTED, MERGED;

        String wire() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static Status fromWire(String s) {
            return switch (s) {
                case "accepted" -> ACCEPTED;
                case "rejected" -> REJECTED;
                case "merged" -> MERGED;
                default -> throw new InvalidInputException("proposal event: unknown status '" + s + "'");
            };
        }
    }

    public ProposalEvent {
        Objects.requireNonNull(proposalId, "proposalId");
        Objects.requireNonNull(branch, "branch");
        Objects.requireNonNull(contributor, "contributor");
        Objects.requireNonNull(status, "status");
        reasons = List.copyOf(reasons);
        Objects.requireNonNull(digest, "digest");
        Objects.requireNonNull(baseVersion, "baseVersion");
        Objects.requireNonNull(time, "time");
    }

    /** The record key on {@link Topics#PROPOSALS}. */
    public String key() {
        return proposalId;
    }

    public byte[] toJson() {
        var o = EventJson.object();
        o.put("proposal_id", proposalId);
        o.put("branch", branch);
        o.put("contributor", contributor);
        o.put("status", status.wire());
        o.set("reasons", EventJson.array(reasons));
        o.put("digest", digest);
        o.put("base_version", baseVersion);
        o.put("time", time.toString());
        return EventJson.bytes(o);
    }

    /** Parses an event's JSON; unknown fields are ignored so newer coordinators can add some. */
    public static ProposalEvent parse(byte[] json) {
        String what = "proposal event";
        JsonNode r = EventJson.parse(what, json);
        return new ProposalEvent(
                EventJson.text(what, r, "proposal_id"),
                EventJson.text(what, r, "branch"),
                EventJson.text(what, r, "contributor"),
                Status.fromWire(EventJson.text(what, r, "status")),
                EventJson.texts(what, r, "reasons"),
                EventJson.text(what, r, "digest"),
                EventJson.text(what, r, "base_version"),
                EventJson.time(what, r, "time"));
    }
}
