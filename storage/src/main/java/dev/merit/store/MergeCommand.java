package dev.merit.store;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.MergeResult;
import dev.merit.merge.Merger;
import dev.merit.merge.Strategy;
import dev.merit.safetensors.SafetensorsFile;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Merges revisions into a new commit on the current branch:
 * {@code repo.merge().setRevisions(a, b).setStrategy(Strategy.FISHER).setMessage("...").call()}.
 *
 * <p>Each input is its revision's change since the merge base (their newest common ancestor),
 * read from the stored sparse deltas where possible; the result is base + eta x D, computed only
 * at the union of the inputs' positions and committed as HEAD plus those entries (the engine's
 * sparse mode; a full merge to a scratch file is the fallback). The commit's
 * parents are HEAD and the revisions; its provenance records the strategy, parameters, base,
 * inputs and weights. Strategy regmean reads each revision's Gram matrices
 * ({@link Repository#openGram}); a revision without them is an error naming it.
 */
public final class MergeCommand {

    private final Repository repo;
    private final List<String> revisions = new ArrayList<>();
    private List<Double> weights = List.of();
    private Strategy strategy = Strategy.AVERAGE;
    private Map<String, ?> parameters = Map.of();
    private String message;
    private String baseRevision;
    private boolean statistics;
    private dev.merit.merge.ProgressListener progress = p -> {};

    MergeCommand(Repository repo) {
        this.repo = repo;
    }

    public MergeCommand setRevisions(List<String> revs) {
        revisions.clear();
        revisions.addAll(revs);
        return this;
    }

    public MergeCommand setWeights(List<Double> weights) {
        this.weights = List.copyOf(weights);
        return this;
    }

    public MergeCommand setStrategy(Strategy strategy) {
        this.strategy = Objects.requireNonNull(strategy);
        return this;
    }

    /** Strategy parameters by their recipe names ({@code fisher_floor}, {@code density}, ...). */
    public MergeCommand setParameters(Map<String, ?> parameters) {
        this.parameters = Map.copyOf(parameters);
        return this;
    }

    public MergeCommand setMessage(String message) {
        this.message = message;
        return this;
    }

    /** Merges changes relative to this revision instead of the computed merge base. */
    public MergeCommand setBase(String rev) {
        this.baseRevision = rev;
        return this;
    }

    public MergeCommand setStatistics(boolean on) {
        this.statistics = on;
        return this;
    }

    public MergeCommand setProgress(dev.merit.merge.ProgressListener progress) {
        this.progress = Objects.requireNonNull(progress);
        return this;
    }

    /** What a merge produced: the new commit and the engine's result (with statistics if asked). */
    public record Result(CommitResult commit, MergeResult merge, ObjectId base) {}

    public Result call() {
        if (revisions.isEmpty()) {
            throw new InvalidInputException("merge needs at least one revision");
        }
        if (!weights.isEmpty() && weights.size() != revisions.size()) {
            throw new InvalidInputException("--weights has " + weights.size() + " values for " + revisions.size() + " revisions");
        }
        MergeParameters params = MergeParameters.defaults().with(parameters);
        ObjectId head = repo.resolve("HEAD");
        List<ObjectId> ids = revisions.stream().map(repo::resolve).toList();
        List<ObjectId> all = new ArrayList<>(ids);
        all.add(head);
        ObjectId base = baseRevision != null ? repo.resolve(baseRevision)
                : repo.mergeBase(all).orElseThrow(() -> new InvalidInputException(
                        "the revisions have no common ancestor; name one with --base"));
        if (!head.equals(base) && !ids.contains(head)) {
            throw new InvalidInputException("HEAD (" + head.abbreviate(12) + ") has changes since the merge base "
                    + base.abbreviate(12) + " that are not an input; list HEAD among the revisions");
        }
        if (strategy.needsFisher()) {
            for (int i = 0; i < ids.size(); i++) {
                if (repo.readCommit(ids.get(i)).fisher().isEmpty()) {
                    throw new InvalidInputException("strategy " + strategy.id() + " needs a Fisher: revision '"
                            + revisions.get(i) + "' has none (commit it with --fisher)");
                }
            }
        }
        List<SafetensorsFile> grams = new ArrayList<>();
        if (strategy == Strategy.REGMEAN) {
            for (int i = 0; i < ids.size(); i++) {
                String rev = revisions.get(i);
                grams.add(repo.openGram(ids.get(i)).orElseThrow(() -> new InvalidInputException("strategy regmean needs the"
                        + " Gram matrices of every input: revision '" + rev + "' has none (train it with --regmean, or"
                        + " commit it with --gram FILE)")));
            }
        }
        List<StoredChange> changes = new ArrayList<>();
        try (SafetensorsFile baseVersion = repo.openVersion(base)) {
            List<MergeInput> inputs = new ArrayList<>();
            for (int i = 0; i < ids.size(); i++) {
                StoredChange c = new StoredChange(repo, revisions.get(i), base, baseVersion, ids.get(i));
                changes.add(c);
                MergeInput in = MergeInput.sparse(revisions.get(i), c).withWeight(weights.isEmpty() ? 1.0 : weights.get(i));
                inputs.add(grams.isEmpty() ? in : in.withGram(grams.get(i)));
            }
            Merger merger = Merger.builder().base(baseVersion).inputs(inputs).strategy(strategy).parameters(params)
                    .statistics(statistics).progress(progress).metadata(baseVersion.metadata()).build();
            List<ObjectId> extraParents = ids.stream().filter(id -> !id.equals(head)).distinct().toList();
            String msg = message != null ? message : "Merge " + String.join(", ", revisions) + " (" + strategy.id() + ")";
            // With sparse inputs only the union of their supports can change, so the commit stores
            // HEAD plus those entries; outside them HEAD equals the merge base (its changes are an input).
            try (MergeOutput merged = MergeOutput.run(repo, merger)) {
                ObjectNode prov = provenance(base, ids, params, merged.sparse());
                CommitResult commit = merged.applyTo(repo.commit()).setMessage(msg).setExtraParents(extraParents)
                        .setProvenance(prov).call();
                return new Result(commit, merged.result(), base);
            }
        } finally {
            changes.forEach(StoredChange::close);
            grams.forEach(SafetensorsFile::close);
        }
    }

    private ObjectNode provenance(ObjectId base, List<ObjectId> ids, MergeParameters params, boolean sparse) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ObjectNode m = root.putObject("merge");
        m.put("strategy", strategy.id());
        m.put("mode", sparse ? "sparse" : "dense");
        m.set("parameters", Json.MAPPER.valueToTree(params.asMap()));
        m.put("base", base.name());
        ArrayNode in = m.putArray("inputs");
        for (int i = 0; i < ids.size(); i++) {
            ObjectNode n = in.addObject();
            n.put("revision", revisions.get(i));
            n.put("commit", ids.get(i).name());
            n.put("weight", weights.isEmpty() ? 1.0 : weights.get(i));
        }
        return root;
    }
}
