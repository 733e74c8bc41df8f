package dev.merit.coordinator.events;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.merit.coordinator.Json;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A proposal's outcome, published on {@link Topics#PROPOSALS} keyed by {@link #proposalId}. JSON:
 * {@code {"format":1,"proposal_id","branch","contributor","status":"accepted"|"rejected"|"merged","reasons":[..],
 * "digest","base_version","time"}} with {@code time} an ISO-8601 instant; an event without
 * {@code format} is format 1.
 */
public record ProposalEvent(String proposalId, String branch, String contributor, Status status,
                            List<String> reasons, String digest, String baseVersion, Instant time) {

    /** Accepted and rejected when validated; a proposal merged into a version gets a second event, merged. */
    public enum Status {
        @JsonProperty("accepted") ACCEPTED,
        @JsonProperty("rejected") REJECTED,
        @JsonProperty("merged") MERGED
    }

    /** The JSON layout written; readers take format 1 and events written before the field existed. */
    public static final int FORMAT = 1;

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
        return Json.write(this, FORMAT);
    }

    /** Parses an event's JSON; unknown fields are ignored so newer coordinators can add some. */
    public static ProposalEvent parse(byte[] json) {
        return Json.read("proposal event", json, ProposalEvent.class, FORMAT, FORMAT);
    }
}
