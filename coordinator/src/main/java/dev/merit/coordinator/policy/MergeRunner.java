package dev.merit.coordinator.policy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.coordinator.Versions;
import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalStore;
import dev.merit.coordinator.validate.Evaluator;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.coordinator.validate.Rejection;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.merge.MergeCheck;
import dev.merit.merge.MergeInput;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.MergeResult;
import dev.merit.merge.Merger;
import dev.merit.merge.Strategy;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.CommitCommand;
import dev.merit.store.MergeOutput;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.stream.Collectors;

/**
 * Merges accepted proposals into the head of their branch: the merge engine computes
 * {@code head + eta * D} from the stored sparse deltas (weights = staleness weight x example
 * count) at the union of their positions only, and the result is committed as the head plus
 * the changed entries with provenance naming every proposal, its contributor,
 * weight, staleness and verdicts, the strategy and its parameters. The branch moves by
 * {@link Versions#advance}; the proposals are marked merged and dequeued in the commit's own
 * batch. A result with non-finite values or a change beyond the norm bounds is refused
 * ({@link Refused}) before anything is written. Runs on one thread.
 */
final class MergeRunner {

    /** What a merge produced, for metrics and callers. */
    record Merged(ObjectId commit, List<ProposalRecord> proposals, Duration took) {}

    /** The merge result would break the model (non-finite, or beyond the norm bounds); nothing was committed. */
    static final class Refused extends RuntimeException {
        Refused(String message) {
            super(message, null, false, false); // a verdict, not a fault: no stack trace in the log
        }
    }

    private final Repository repo;
    private final ProposalStore store;
    private final Versions versions;
    private final PolicyConfig config;
    private final ValidationConfig bounds;
    private final ServerMomentum momentum;

    /** {@code bounds}: the norm limits a merge's change to the head must respect, as each proposal does. */
    MergeRunner(ProposalStore store, Versions versions, PolicyConfig config, ValidationConfig bounds) {
        this.repo = store.repository();
        this.store = store;
        this.versions = versions;
        this.config = config;
        this.bounds = bounds;
        this.momentum = config.serverMomentum() > 0 ? new ServerMomentum(config.serverMomentum()) : null;
    }

    /**
     * What a merge would produce, computed without committing (the review page's preview), and
     * when an evaluator is given, the scores of the head and of the merged model.
     */
    record Preview(ObjectId head, MergeResult result, OptionalDouble headScore, OptionalDouble mergedScore) {}

    Merged merge(String branch, List<ProposalRecord> proposals) {
        return merge(branch, proposals, config.strategy(), config.parameters());
    }

    Merged merge(String branch, List<ProposalRecord> proposals, Strategy strategy, MergeParameters parameters) {
        long t0 = System.nanoTime();
        ObjectId head = versions.requireHead(branch);
        // With server momentum the engine computes D (step size 1) and the velocity gives the step.
        MergeParameters engine = momentum == null ? parameters : parameters.with(Map.of("step_size", 1.0));
        return withMerger(head, proposals, strategy, engine, false, (merger, base) -> {
            // Proposals are sparse, so the merge only computes the union of their supports and
            // commits the head plus the changed entries; a full merge to a file is the fallback.
            try (MergeOutput merged = MergeOutput.run(repo, merger);
                 ServerMomentum.Step step = momentum == null ? null : momentumStep(branch, base, merged, parameters.stepSize())) {
                MergeCheck check = step == null ? merged.check(base) : MergeCheck.ofChanges(base, step.changes());
                Optional<String> broken = check.violation(bounds.maxTensorNorm(), bounds.maxTotalNorm());
                if (broken.isPresent()) {
                    throw new Refused("merge of " + names(proposals) + " refused: " + broken.get() + "; '" + branch
                            + "' stays at " + head.abbreviate(12));
                }
                ObjectNode prov = provenance(head, proposals, cappedWeights(proposals, config.maxContributorShare()), merged.result(), merged.sparse(), strategy, parameters);
                String message = "Merge " + proposals.size() + (proposals.size() == 1 ? " proposal: " : " proposals: ")
                        + names(proposals);
                Instant now = Instant.now();
                List<String> ids = proposals.stream().map(ProposalRecord::id).toList();
                Versions.NewVersion v = versions.advance(branch, List.of(head), ids, strategy.id(), now, rows ->
                        withMomentum(merged.applyTo(repo.commit()), step).setBranch(branch).setAuthor("merit-coordinator")
                                .setMessage(message).setProvenance(prov).setTime(now).alsoWrite((id, tx) -> {
                                    for (ProposalRecord p : proposals) {
                                        ProposalRecord m = p.merged(id.name());
                                        store.put(tx, m);
                                        store.dequeue(tx, m);
                                        // Its "merged" event lands with the commit, or neither does.
                                        tx.addEvent(Topics.PROPOSALS, m.id(), m.eventJson());
                                    }
                                    rows.accept(id, tx);
                                }).call().id());
                ObjectId commit = v.commit();
                if (step != null) {
                    step.keep();
                }
                return new Merged(commit, proposals.stream().map(p -> p.merged(commit.name())).toList(),
                        Duration.ofNanos(System.nanoTime() - t0));
            }
        });
    }

    private ServerMomentum.Step momentumStep(String branch, SafetensorsFile head, MergeOutput merged, double eta) {
        if (!merged.sparse()) {
            throw new Refused("server momentum needs sparse merges (every proposal is sparse); this merge was dense");
        }
        return momentum.step(branch, head, merged.sparseChanges(), eta);
    }

    private static CommitCommand withMomentum(CommitCommand c, ServerMomentum.Step step) {
        return step == null ? c : c.setChanges(step.changes());
    }

    /** Frees the server momentum's velocities. */
    void close() {
        if (momentum != null) {
            momentum.close();
        }
    }

    /**
     * Runs the merge with statistics (the engine's explain output) and discards the result; with
     * an evaluator, merges once more into a scratch file to score the would-be model.
     */
    Preview preview(String branch, List<ProposalRecord> proposals, Strategy strategy, MergeParameters parameters,
                    Optional<Evaluator> evaluator) {
        ObjectId head = versions.requireHead(branch);
        MergeResult result = withMerger(head, proposals, strategy, parameters, true, (merger, base) -> {
            try (MergeOutput merged = MergeOutput.run(repo, merger)) {
                return merged.result();
            }
        });
        if (evaluator.isEmpty()) {
            return new Preview(head, result, OptionalDouble.empty(), OptionalDouble.empty());
        }
        Evaluator ev = evaluator.get();
        Path scratch = repo.workDir().resolve(Repository.DIR_NAME).resolve("coordinator-tmp")
                .resolve("preview-" + System.nanoTime() + ".safetensors");
        try {
            Files.createDirectories(scratch.getParent());
            withMerger(head, proposals, strategy, parameters, false, (merger, base) -> merger.mergeTo(scratch));
            // An evaluator scores one model at a time (its contract); pushes share it.
            synchronized (ev) {
                double headScore;
                try (SafetensorsFile h = repo.openVersion(head)) {
                    headScore = ev.score(h);
                }
                try (SafetensorsFile m = SafetensorsFile.open(scratch)) {
                    return new Preview(head, result, OptionalDouble.of(headScore), OptionalDouble.of(ev.score(m)));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("merge preview: " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(scratch);
            } catch (IOException ignored) {
                // the coordinator clears its scratch directory on start
            }
        }
    }

    /**
     * The merge gate's verdict on a batch: the proposals that may land (possibly none) and, for
     * each one left out, why.
     */
    record GateVerdict(List<ProposalRecord> kept, Map<String, String> refused) {}

    /**
     * Scores the batch's merge (head + the strategy's combination, written to a scratch file)
     * against the head with {@code gate}. If it drops more than the gate's margin, the proposal
     * whose removal scores best is left out and the rest scored again, at most (n - 1) / 2 times
     * (a minority of the batch); if even then the merge fails, the whole batch is refused. Gating
     * the merge rather than each proposal lets honest non-IID proposals through: each alone may
     * forget the classes its contributor lacks, while their merge does not.
     */
    GateVerdict gate(String branch, List<ProposalRecord> batch, QualityGate gate) {
        ObjectId head = versions.requireHead(branch);
        Evaluator ev = gate.evaluator();
        double headScore;
        try (SafetensorsFile h = repo.openVersion(head)) {
            // An evaluator scores one model at a time (its contract); pushes share it.
            synchronized (ev) {
                headScore = ev.score(h);
            }
        }
        List<ProposalRecord> kept = new ArrayList<>(batch);
        Map<String, String> refused = new LinkedHashMap<>();
        double score = scoreMerge(head, kept, ev);
        int maxLeftOut = (batch.size() - 1) / 2;
        while (!passes(gate, headScore, score) && refused.size() < maxLeftOut) {
            ProposalRecord worst = null;
            double best = Double.NEGATIVE_INFINITY;
            for (ProposalRecord p : kept) {
                List<ProposalRecord> rest = new ArrayList<>(kept);
                rest.remove(p);
                double s = scoreMerge(head, rest, ev);
                if (s > best) {
                    best = s;
                    worst = p;
                }
            }
            refused.put(worst.id(), String.format(java.util.Locale.ROOT,
                    "merge gate: merging the batch of %d scores %.6g, without this proposal %.6g (%s; head %.6g, margin %.3g)",
                    kept.size(), score, best, ev.describe(), headScore, gate.margin()));
            kept.remove(worst);
            score = best;
        }
        if (!passes(gate, headScore, score)) {
            for (ProposalRecord p : kept) {
                refused.put(p.id(), String.format(java.util.Locale.ROOT,
                        "merge gate: merging the batch of %d scores %.6g against the head's %.6g (%s, margin %.3g); '%s' stays at %s",
                        kept.size(), score, headScore, ev.describe(), gate.margin(), branch, head.abbreviate(12)));
            }
            kept = List.of();
        }
        return new GateVerdict(List.copyOf(kept), refused);
    }

    private static boolean passes(QualityGate gate, double headScore, double score) {
        try {
            gate.check(headScore, score);
            return true;
        } catch (Rejection e) {
            return false;
        }
    }

    /** The evaluator's score of head + the merge of {@code proposals} with the policy's strategy. */
    private double scoreMerge(ObjectId head, List<ProposalRecord> proposals, Evaluator ev) {
        Path scratch = repo.workDir().resolve(Repository.DIR_NAME).resolve("coordinator-tmp")
                .resolve("gate-" + System.nanoTime() + ".safetensors");
        try {
            Files.createDirectories(scratch.getParent());
            withMerger(head, proposals, config.strategy(), config.parameters(), false, (merger, base) -> merger.mergeTo(scratch));
            try (SafetensorsFile m = SafetensorsFile.open(scratch)) {
                synchronized (ev) {
                    return ev.score(m);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("merge gate: " + e.getMessage(), e);
        } finally {
            try {
                Files.deleteIfExists(scratch);
            } catch (IOException ignored) {
                // the coordinator clears its scratch directory on start
            }
        }
    }

    private <T> T withMerger(ObjectId head, List<ProposalRecord> proposals, Strategy strategy, MergeParameters parameters,
                             boolean statistics, java.util.function.BiFunction<Merger, SafetensorsFile, T> run) {
        List<AutoCloseable> sources = new ArrayList<>();
        try (SafetensorsFile base = repo.openVersion(head)) {
            Map<String, TensorInfo> layout = new LinkedHashMap<>();
            base.tensors().forEach(t -> layout.put(t.name(), t));
            List<MergeInput> inputs = new ArrayList<>();
            double[] weights = cappedWeights(proposals, config.maxContributorShare());
            for (int i = 0; i < proposals.size(); i++) {
                ProposalRecord p = proposals.get(i);
                StoredDelta d = new StoredDelta(store, p, layout);
                sources.add(d);
                MergeInput in = MergeInput.sparse(p.id(), d).withWeight(weights[i]);
                if (strategy == Strategy.REGMEAN) {
                    // Validation made every proposal bring a Gram matrix per linear layer; the engine names any gap.
                    Optional<StoredGram> g = StoredGram.of(store, p);
                    g.ifPresent(sources::add);
                    in = in.withGram(g.orElse(null));
                }
                inputs.add(in);
            }
            Merger merger = Merger.builder().base(base).inputs(inputs).strategy(strategy)
                    .parameters(parameters).statistics(statistics).build();
            return run.apply(merger, base);
        } finally {
            for (AutoCloseable c : sources) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    private static String names(List<ProposalRecord> proposals) {
        return proposals.stream().map(p -> p.id() + " (" + p.contributor() + ")").collect(Collectors.joining(", "));
    }

    /**
     * Each proposal's merge weight: its own weight (staleness weight x example count), scaled so
     * that no contributor's proposals hold more than {@code maxShare} of the batch's total (at
     * least 1/k with k contributors, so the shares can add up). Capped contributors share the
     * same total T, the others keep theirs: T = s * (sum of the uncapped) / (1 - m * s) for m capped.
     * A claimed example count, however large, can thus not outweigh everyone else.
     */
    static double[] cappedWeights(List<ProposalRecord> proposals, double maxShare) {
        double[] w = new double[proposals.size()];
        Map<String, Double> byContributor = new LinkedHashMap<>();
        for (int i = 0; i < w.length; i++) {
            ProposalRecord p = proposals.get(i);
            w[i] = p.weight(); // at most ~9.2e18 (Long.MAX_VALUE examples) each: sums stay finite
            byContributor.merge(p.contributor(), w[i], Double::sum);
        }
        int k = byContributor.size();
        double s = Math.max(maxShare, 1.0 / k);
        if (k < 2 || s >= 1) {
            return w;
        }
        double[] sorted = byContributor.values().stream().mapToDouble(Double::doubleValue).sorted().toArray();
        // smallest[j]: the sum of the j smallest totals, added smallest first (no cancellation against huge ones).
        double[] smallest = new double[k + 1];
        for (int j = 0; j < k; j++) {
            smallest[j + 1] = smallest[j] + sorted[j];
        }
        double cap = Double.POSITIVE_INFINITY;
        for (int m = 0; m < k; m++) { // m largest capped; the largest uncapped is sorted[k - 1 - m]
            double t = s * smallest[k - m] / (1 - m * s);
            if (sorted[k - 1 - m] <= t) {
                cap = t;
                break;
            }
        }
        for (int i = 0; i < w.length; i++) {
            double total = byContributor.get(proposals.get(i).contributor());
            if (total > cap) {
                w[i] *= cap / total;
            }
        }
        return w;
    }

    private ObjectNode provenance(ObjectId head, List<ProposalRecord> proposals, double[] weights, MergeResult result, boolean sparse,
                                  Strategy strategy, MergeParameters parameters) {
        List<MergeProvenance.Proposal> merged = new ArrayList<>();
        for (int i = 0; i < proposals.size(); i++) {
            merged.add(MergeProvenance.Proposal.of(proposals.get(i), weights[i]));
        }
        Map<String, Object> params = new LinkedHashMap<>(parameters.asMap());
        if (momentum != null) {
            params.put("server_momentum", config.serverMomentum());
        }
        return new MergeProvenance(config.policy().id(), strategy.id(), sparse ? "sparse" : "dense",
                params, head.name(), result.nanos() / 1e9, config.maxContributorShare(), merged).toProvenance();
    }
}
