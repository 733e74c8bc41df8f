package dev.merit.coordinator.events;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A new version on a branch, published on {@link Topics#VERSIONS} keyed by {@link #branch}. JSON:
 * {@code {"branch","commit","parents":[..],"proposals":[..],"strategy","time"}} with {@code time}
 * an ISO-8601 instant.
 */
public record VersionEvent(String branch, String commit, List<String> parents, List<String> proposals,
                           String strategy, Instant time) {

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
        var o = EventJson.object();
        o.put("branch", branch);
        o.put("commit", commit);
        o.set("parents", EventJson.array(parents));
        o.set("proposals", EventJson.array(proposals));
        o.put("strategy", strategy);
        o.put("time", time.toString());
        return EventJson.bytes(o);
    }

    /** Parses an event's JSON; unknown fields are ignored so newer coordinators can add some. */
    public static VersionEvent parse(byte[] json) {
        String what = "version event";
        JsonNode r = EventJson.parse(what, json);
        return new VersionEvent(
                EventJson.text(what, r, "branch"),
                EventJson.text(what, r, "commit"),
                EventJson.texts(what, r, "parents"),
                EventJson.texts(what, r, "proposals"),
                EventJson.text(what, r, "strategy"),
                EventJson.time(what, r, "time"));
    }
}
