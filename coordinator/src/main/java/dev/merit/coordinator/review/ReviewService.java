package dev.merit.coordinator.review;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.coordinator.Versions;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.auth.TokenStore;
import dev.merit.coordinator.policy.PolicyRunner;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalService;
import dev.merit.coordinator.validate.CheckResult;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.Strategy;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import dev.merit.tensor.TensorInfo;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The review page's one entry point: reading proposals with their statistics and conflicts,
 * deciding on them, merging chosen ones and reading a branch's history. Every call names its
 * caller and the services it delegates to check the caller's role, exactly as over gRPC.
 */
public final class ReviewService {

    /** A proposal as listed: the stored record plus what the list shows beside it. */
    public record ProposalView(ProposalRecord record, long currentStaleness, long denseBytes,
                               OptionalDouble gateBefore, OptionalDouble gateAfter) {}

    /** A proposal with its per-tensor change and its conflicts with the other waiting proposals. */
    public record ProposalDetail(ProposalView proposal, List<TensorChange> tensors, List<Conflict> conflicts) {}

    /** One commit of a branch's history. */
    public record VersionView(String id, long number, List<String> parents, String author, Instant time, String message,
                              Optional<String> strategy, List<String> proposals, OptionalDouble score) {}

    /** "evaluator: 0.81 -> 0.83 (margin ...)", as {@link dev.merit.coordinator.validate.QualityGate} writes it. */
    private static final Pattern GATE = Pattern.compile(":\\s*(-?[0-9.eE+-]+|NaN)\\s*->\\s*(-?[0-9.eE+-]+|NaN)");

    private final TokenStore tokens;
    private final ProposalService proposals;
    private final PolicyRunner policy;
    private final Versions versions;
    private final ProposalStatistics statistics;
    /** Dense float32 sizes by proposal id: a proposal's tensors and base never change. */
    private final Map<String, Long> denseBytes = new ConcurrentHashMap<>();

    public ReviewService(TokenStore tokens, ProposalService proposals, PolicyRunner policy, Versions versions) {
        this.tokens = tokens;
        this.proposals = proposals;
        this.policy = policy;
        this.versions = versions;
        this.statistics = new ProposalStatistics(proposals.store());
    }

    /** The caller behind a bearer token; UNAUTHENTICATED if there is none or it is unknown. */
    public Principal authenticate(String token) {
        return tokens.authenticate(token);
    }

    /** Proposals visible to {@code who}, newest first, filtered by branch, status and contributor ("" for any). */
    public List<ProposalView> list(Principal who, String branch, Optional<ProposalRecord.Status> status, String contributor, int limit) {
        return proposals.list(who, branch, status, limit).stream()
                .filter(r -> contributor.isEmpty() || r.contributor().equals(contributor))
                .map(this::view).toList();
    }

    public ProposalDetail detail(Principal who, String id) {
        ProposalRecord r = proposals.get(who, id);
        List<ProposalRecord> others = proposals.list(who, r.branch(), Optional.of(ProposalRecord.Status.ACCEPTED), 1000);
        return new ProposalDetail(view(r), statistics.tensors(r), statistics.conflicts(r, others));
    }

    public ProposalRecord approve(Principal who, String id, String message) {
        return policy.review(who, id, true, message == null ? "" : message);
    }

    public ProposalRecord reject(Principal who, String id, String reason) {
        who.require(Role.MAINTAINER, "reviewing proposals");
        if (reason == null || reason.isBlank()) {
            throw new InvalidInputException("rejecting proposal " + id + " needs a reason");
        }
        return policy.review(who, id, false, reason);
    }

    /** Merges the chosen proposals now as one merge commit; returns them as merged. */
    public List<ProposalRecord> merge(Principal who, String branch, List<String> ids, Strategy strategy, MergeParameters parameters) {
        return policy.mergeSelected(who, branch, ids, strategy, parameters);
    }

    /** What merging the chosen proposals would give; commits nothing. */
    public PolicyRunner.Preview preview(Principal who, String branch, List<String> ids, Strategy strategy, MergeParameters parameters) {
        return policy.preview(who, branch, ids, strategy, parameters);
    }

    /** The coordinator's branches, by name. */
    public List<String> branches() {
        return List.copyOf(versions.repository().branches().keySet());
    }

    /** The branch's commits, newest first, at most {@code limit}. */
    public List<VersionView> history(Principal who, String branch, int limit) {
        who.require(Role.READER, "reading history");
        ObjectId head = versions.requireHead(branch);
        List<VersionView> out = new ArrayList<>();
        for (Map.Entry<ObjectId, Commit> e : versions.repository().log(head, limit <= 0 ? 200 : limit)) {
            Commit c = e.getValue();
            ObjectNode prov = c.provenance();
            JsonNode merge = prov.path("merge");
            List<String> ids = new ArrayList<>();
            merge.path("proposals").forEach(p -> ids.add(p.path("id").asText()));
            JsonNode score = prov.path("evaluation").path("score");
            out.add(new VersionView(e.getKey().name(), versions.number(e.getKey()), c.parents().stream().map(ObjectId::name).toList(),
                    c.author(), c.time(), c.message(),
                    merge.hasNonNull("strategy") ? Optional.of(merge.get("strategy").asText()) : Optional.empty(), ids,
                    score.isNumber() ? OptionalDouble.of(score.asDouble()) : OptionalDouble.empty()));
        }
        return out;
    }

    private ProposalView view(ProposalRecord r) {
        long stale = r.staleness();
        long dense = 0;
        try {
            ObjectId base = ObjectId.fromString(r.baseVersion());
            Optional<ObjectId> head = versions.head(r.branch());
            if (head.isPresent() && r.status() == ProposalRecord.Status.ACCEPTED) {
                stale = versions.number(head.get()) - versions.number(base);
            }
            dense = denseBytes.computeIfAbsent(r.id(), k -> denseBytes(base, r.tensors()));
        } catch (RuntimeException e) {
            // a rejected proposal may name a base the coordinator never had: show what was recorded
        }
        OptionalDouble before = OptionalDouble.empty();
        OptionalDouble after = OptionalDouble.empty();
        for (CheckResult c : r.checks()) {
            if (c.name().equals("quality")) {
                Matcher m = GATE.matcher(c.detail());
                if (m.find()) {
                    before = OptionalDouble.of(Double.parseDouble(m.group(1)));
                    after = OptionalDouble.of(Double.parseDouble(m.group(2)));
                }
            }
        }
        return new ProposalView(r, stale, dense, before, after);
    }

    /** What the changed tensors would take as dense float32. */
    private long denseBytes(ObjectId base, List<String> tensors) {
        Map<String, Long> numel = new HashMap<>();
        for (TensorInfo t : versions.repository().manifestOf(base).layout()) {
            numel.put(t.name(), t.numel());
        }
        return tensors.stream().mapToLong(t -> numel.getOrDefault(t, 0L) * Float.BYTES).sum();
    }
}
