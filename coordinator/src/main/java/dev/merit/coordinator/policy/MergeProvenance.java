package dev.merit.coordinator.policy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.coordinator.Json;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.validate.CheckResult;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * How a merge commit was made, kept under {@code "merge"} in its provenance: the policy and
 * strategy with their parameters, the base, and every proposal with its weight and verdicts.
 *
 * @param mode         {@code sparse} (the union of the proposals' supports) or {@code dense}
 * @param base         the head the proposals were merged into (commit id)
 * @param mergeSeconds the merge engine's time
 */
public record MergeProvenance(String policy, String strategy, String mode, Map<String, Object> parameters, String base,
                              double mergeSeconds, double maxContributorShare, List<Proposal> proposals) {

    /** The layout written; merge sections written before the field existed are format 1 too. */
    public static final int FORMAT = 1;
    /** The key of this section in a commit's provenance. */
    public static final String KEY = "merge";

    /** One merged proposal as the merge weighed it. */
    public record Proposal(String id, String contributor, String digest, String baseVersion, long staleness,
                           double stalenessWeight, long exampleCount, double weight, double mergeWeight, long entries, double norm,
                           List<CheckResult> checks, Optional<String> review) {

        /** {@code mergeWeight}: the weight the merge used, after the cap on one contributor's share. */
        static Proposal of(ProposalRecord p, double mergeWeight) {
            return new Proposal(p.id(), p.contributor(), p.digest(), p.baseVersion(), p.staleness(), p.stalenessWeight(),
                    p.exampleCount(), p.weight(), mergeWeight, p.entries(), p.norm(), p.checks(), p.review());
        }
    }

    public MergeProvenance {
        parameters = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(parameters)); // kept in order, as shown
        proposals = List.copyOf(proposals);
    }

    /** The commit provenance holding this section: {@code {"merge": {...}}}. */
    public ObjectNode toProvenance() {
        ObjectNode root = Json.object();
        root.set(KEY, Json.tree(this, FORMAT));
        return root;
    }

    /** The merge section of a commit's provenance, if the commit is a coordinator's merge. */
    public static Optional<MergeProvenance> of(JsonNode provenance) {
        JsonNode m = provenance.path(KEY);
        return m.isObject() ? Optional.of(Json.read("merge provenance", m, MergeProvenance.class, FORMAT, FORMAT)) : Optional.empty();
    }
}
