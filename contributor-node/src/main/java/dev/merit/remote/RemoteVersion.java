package dev.merit.remote;

import java.time.Instant;
import java.util.List;

/**
 * A new version of a branch as the coordinator announced it.
 *
 * @param proposals ids of the proposals merged into it (empty for a published version)
 * @param strategy  the merge strategy that made it
 * @param number    first-parent depth of the commit
 */
public record RemoteVersion(String branch, String commit, List<String> parents, List<String> proposals, String strategy,
                            Instant time, long number) {

    public RemoteVersion {
        parents = List.copyOf(parents);
        proposals = List.copyOf(proposals);
    }
}
