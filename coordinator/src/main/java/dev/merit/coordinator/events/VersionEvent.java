package dev.merit.coordinator.events;

import dev.merit.coordinator.Json;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A new version on a branch, published on {@link Topics#VERSIONS} keyed by {@link #branch}. JSON:
 * {@code {"format":1,"branch","commit","parents":[..],"proposals":[..],"strategy","time"}} with
 * {@code time} an ISO-8601 instant; an event without {@code format} is format 1.
 */
public record VersionEvent(String branch, String commit, List<String> parents, List<String> proposals,
                           String strategy, Instant time) {

    /** The JSON layout written; readers take format 1 and events written before the field existed. */
    public static final int FORMAT = 1;

    public VersionEvent {
        Objects.requireNonNull(branch, "branch");
        Objects.requireNonNull(commit, "commit");
        parents = List.copyOf(parents);
        proposals = List.copyOf(proposals);
        Objects.requireNonNull(strategy, "strategy");
        Objects.requireNonNull(time, "time");
    }

    /** The record key on {@link Topics#VERSIONS}. */
    public String key() {
        return branch;
    }

    public byte[] toJson() {
        return Json.write(this, FORMAT);
    }

    /** Parses an event's JSON; unknown fields are ignored so newer coordinators can add some. */
    public static VersionEvent parse(byte[] json) {
        return Json.read("version event", json, VersionEvent.class, FORMAT, FORMAT);
    }
}
