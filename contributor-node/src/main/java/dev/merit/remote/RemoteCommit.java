package dev.merit.remote;

import java.time.Instant;
import java.util.List;

/** One entry of a branch's history on the coordinator; {@code provenanceJson} as the commit stores it. */
public record RemoteCommit(String commit, List<String> parents, String author, String message, Instant time, String provenanceJson) {

    public RemoteCommit {
        parents = List.copyOf(parents);
    }
}
