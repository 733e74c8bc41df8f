package dev.merit.coordinator.policy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.coordinator.Versions;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalStore;
import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeResult;
import dev.merit.merge.Merger;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.MergeOutput;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorInfo;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Merges accepted proposals into the head of their branch: the merge engine computes
 * {@code head + eta * D} from the stored sparse deltas (weights = staleness weight x example
 * count) at the union of their positions only, and the result is committed as the head plus
 * the changed entries with provenance naming every proposal, its contributor,
 * weight, staleness and verdicts, the strategy and its parameters. The branch moves by
 * {@link Versions#advance}; the proposals are marked merged and dequeued in the commit's own
 * batch. Runs on one thread.
 */
final class MergeRunner {

    /** What a merge produced, for metrics and callers. */
    record Merged(ObjectId commit, List<ProposalRecord> proposals, Duration took) {}

    private final Repository repo;
    private final ProposalStore store;
    private final Versions versions;
    private final PolicyConfig config;

    MergeRunner(ProposalStore store, Versions versions, PolicyConfig config) {
        this.repo = store.repository();
        this.store = store;
        this.versions = versions;
        this.config = config;
    }

    Merged merge(String branch, List<ProposalRecord> proposals) {
        long t0 = System.nanoTime();
        ObjectId head = versions.requireHead(branch);
        List<StoredDelta> sources = new ArrayList<>();
        try (SafetensorsFile base = repo.openVersion(head)) {
            Map<String, TensorInfo> layout = new LinkedHashMap<>();
            base.tensors().forEach(t -> layout.put(t.name(), t));
            List<MergeInput> inputs = new ArrayList<>();
            for (ProposalRecord p : proposals) {
                StoredDelta d = new StoredDelta(store, p, layout);
                sources.add(d);
                inputs.add(MergeInput.sparse(p.id(), d).withWeight(p.weight()));
            }
            Merger merger = Merger.builder().base(base).inputs(inputs).strategy(config.strategy())
                    .parameters(config.parameters()).build();
            // Proposals are sparse, so the merge only computes the union of their supports and
            // commits the head plus the changed entries; a full merge to a file is the fallback.
            try (MergeOutput merged = MergeOutput.run(repo, merger)) {
                ObjectNode prov = provenance(head, proposals, merged.result(), merged.sparse());
                String message = "Merge " + proposals.size() + (proposals.size() == 1 ? " proposal: " : " proposals: ")
                        + proposals.stream().map(p -> p.id() + " (" + p.contributor() + ")").collect(Collectors.joining(", "));
                Instant now = Instant.now();
                List<String> ids = proposals.stream().map(ProposalRecord::id).toList();
                Versions.NewVersion v = versions.advance(branch, List.of(head), ids, config.strategy().id(), now, rows ->
                        merged.applyTo(repo.commit()).setBranch(branch).setAuthor("merit-coordinator")
                                .setMessage(message).setProvenance(prov).setTime(now).alsoWrite((id, tx) -> {
                                    for (ProposalRecord p : proposals) {
                                        ProposalRecord m = p.merged(id.name());
                                        store.put(tx, m);
                                        store.dequeue(tx, m);
                                    }
                                    rows.accept(id, tx);
                                }).call().id());
                ObjectId commit = v.commit();
                return new Merged(commit, proposals.stream().map(p -> p.merged(commit.name())).toList(),
                        Duration.ofNanos(System.nanoTime() - t0));
            }
        } finally {
            sources.forEach(StoredDelta::close);
        }
    }

    private ObjectNode provenance(ObjectId head, List<ProposalRecord> proposals, MergeResult result, boolean sparse) {
        return new MergeProvenance(config.policy().id(), config.strategy().id(), sparse ? "sparse" : "dense",
                config.parameters().asMap(), head.name(), result.nanos() / 1e9,
                proposals.stream().map(MergeProvenance.Proposal::of).toList()).toProvenance();
    }
}
