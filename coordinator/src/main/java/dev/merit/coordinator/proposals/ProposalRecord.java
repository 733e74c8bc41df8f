package dev.merit.coordinator.proposals;

import com.fasterxml.jackson.annotation.JsonProperty;
import dev.merit.coordinator.Json;
import dev.merit.coordinator.events.ProposalEvent;
import dev.merit.coordinator.validate.CheckResult;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A stored proposal: its header facts, validation verdicts and where it stands. Immutable;
 * status changes make a new record, written in the same batch as what caused them.
 *
 * @param tensors    names of the changed tensors, in payload order (their data lives in separate records)
 * @param signingKey the fingerprint of the contributor's key that signed it (absent for records from before keys rotated)
 * @param signature  that signature of {@code digest}, in hex, so the proposal stays verifiable after the key is rotated or revoked
 */
public record ProposalRecord(String id, String branch, String contributor, String baseVersion, Status status,
                             List<String> reasons, List<CheckResult> checks, String digest, long staleness,
                             double stalenessWeight, long exampleCount, boolean hasFisher, long entries, double density,
                             double norm, long payloadBytes, String message, Instant created, Optional<String> mergedIn,
                             Optional<String> review, List<String> tensors, Optional<String> signingKey,
                             Optional<String> signature) {

    /** The stored layout: the fields below in snake_case, {@code status} in lower case, absent optionals left out. */
    static final int FORMAT = 1;

    public enum Status {
        @JsonProperty("accepted") ACCEPTED,
        @JsonProperty("rejected") REJECTED,
        @JsonProperty("merged") MERGED
    }

    public ProposalRecord {
        reasons = List.copyOf(reasons);
        checks = List.copyOf(checks);
        tensors = List.copyOf(tensors);
    }

    /** A record without its signature (rejected before or without a verified signature). */
    public ProposalRecord(String id, String branch, String contributor, String baseVersion, Status status,
                          List<String> reasons, List<CheckResult> checks, String digest, long staleness,
                          double stalenessWeight, long exampleCount, boolean hasFisher, long entries, double density,
                          double norm, long payloadBytes, String message, Instant created, Optional<String> mergedIn,
                          Optional<String> review, List<String> tensors) {
        this(id, branch, contributor, baseVersion, status, reasons, checks, digest, staleness, stalenessWeight, exampleCount,
                hasFisher, entries, density, norm, payloadBytes, message, created, mergedIn, review, tensors, Optional.empty(),
                Optional.empty());
    }

    /** The merge weight: staleness weight times the example count (1 if unknown). */
    public double weight() {
        return stalenessWeight * (exampleCount > 0 ? exampleCount : 1);
    }

    public ProposalRecord merged(String commit) {
        return new ProposalRecord(id, branch, contributor, baseVersion, Status.MERGED, reasons, checks, digest, staleness,
                stalenessWeight, exampleCount, hasFisher, entries, density, norm, payloadBytes, message, created,
                Optional.of(commit), review, tensors, signingKey, signature);
    }

    /** Rejected after acceptance because merging it would break the model; {@code reason} says how. */
    public ProposalRecord refused(String reason) {
        List<String> rs = new ArrayList<>(reasons);
        rs.add(reason);
        return new ProposalRecord(id, branch, contributor, baseVersion, Status.REJECTED, rs, checks, digest, staleness,
                stalenessWeight, exampleCount, hasFisher, entries, density, norm, payloadBytes, message, created,
                mergedIn, review, tensors, signingKey, signature);
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
                mergedIn, Optional.of(r), tensors, signingKey, signature);
    }

    /** The stored form: {@value #FORMAT} and the fields in snake_case (format 1 records are read as they are). */
    public byte[] toJson() {
        return Json.write(this, FORMAT);
    }

    static ProposalRecord fromJson(byte[] bytes) {
        return Json.read("proposal record", bytes, ProposalRecord.class, -1, FORMAT);
    }

    /** The payload of the {@code merit.proposals} event (accepted or rejected proposals only). */
    public byte[] eventJson() {
        ProposalEvent.Status st = switch (status) {
            case ACCEPTED -> ProposalEvent.Status.ACCEPTED;
            case REJECTED -> ProposalEvent.Status.REJECTED;
            case MERGED -> ProposalEvent.Status.MERGED;
        };
        return new ProposalEvent(id, branch, contributor, st, reasons, digest, baseVersion, Instant.now()).toJson();
    }
}
