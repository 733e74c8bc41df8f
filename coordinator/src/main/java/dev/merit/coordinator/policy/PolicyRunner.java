package dev.merit.coordinator.policy;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Versions;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.proposals.ProposalLedger;
import dev.merit.coordinator.validate.Evaluator;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalService;
import dev.merit.coordinator.proposals.ProposalStore;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.MergeResult;
import dev.merit.merge.Strategy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Applies the merge policy. All merges run on one thread, so a branch's head only moves
 * there (publishing creates branches, never moves them) and batches never overlap: auto merges
 * each accepted proposal and answers once its commit exists; batch merges when N wait or the
 * oldest has waited T; manual waits for a maintainer's approval.
 */
public final class PolicyRunner implements ProposalService.AcceptListener, AutoCloseable {

    /** Merges nobody is told about, failures nobody logs (tests). */
    public static final MergeListener NO_LISTENER = (b, c, n, d) -> {};

    /** Told about every merge (metrics). */
    public interface MergeListener {
        void merged(String branch, ObjectIdName commit, int proposals, Duration took);
    }

    /** A commit id as text, so listeners need not depend on the store's types. */
    public record ObjectIdName(String hex) {}

    private final PolicyConfig config;
    private final ProposalLedger ledger;
    private final ProposalStore store;
    private final Versions versions;
    private final MergeRunner runner;
    private final ScheduledExecutorService thread;
    private final MergeListener listener;
    private final Consumer<Throwable> failures;
    private final Optional<Evaluator> evaluator;
    private final Optional<QualityGate> mergeGate;

    /**
     * @param listener told about every merge (metrics)
     * @param failures where failed background merges are reported (logs)
     */
    public PolicyRunner(PolicyConfig config, ProposalLedger ledger, Versions versions, MergeListener listener,
                        Consumer<Throwable> failures) {
        this(config, ledger, versions, ValidationConfig.defaults(), Optional.empty(), Optional.empty(), listener, failures);
    }

    /**
     * @param bounds    the norm limits every merge result must respect, as each proposal does
     * @param evaluator scores would-be models in merge previews (the quality gate's), if any
     * @param mergeGate if given, scores each policy merge against the head before it lands and
     *                  leaves out the proposals that make it fail ({@link MergeRunner#gate})
     * @param listener  told about every merge (metrics)
     * @param failures  where failed background merges are reported (logs)
     */
    public PolicyRunner(PolicyConfig config, ProposalLedger ledger, Versions versions, ValidationConfig bounds,
                        Optional<Evaluator> evaluator, Optional<QualityGate> mergeGate, MergeListener listener,
                        Consumer<Throwable> failures) {
        this.config = config;
        this.ledger = ledger;
        this.store = ledger.store();
        this.versions = versions;
        this.runner = new MergeRunner(store, versions, config, bounds);
        this.evaluator = evaluator;
        this.mergeGate = mergeGate;
        this.listener = listener;
        this.failures = failures;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "merit-merge");
            t.setDaemon(true);
            return t;
        });
        if (config.policy() == MergePolicy.BATCH) {
            long ms = Math.max(50, Math.min(1000, config.batchDelay().toMillis() / 4));
            thread.scheduleWithFixedDelay(this::mergeDueBatches, ms, ms, TimeUnit.MILLISECONDS);
        }
        if (config.policy() == MergePolicy.AUTO) {
            // Proposals stored as accepted before a crash (or under another policy) were never
            // merged: auto owes each of them its merge, so the first task on the merge thread pays.
            thread.execute(() -> guarded(this::mergeOwed));
        }
    }

    /** Auto's start-up duty: merges, one by one in arrival order, every accepted proposal still queued. */
    private void mergeOwed() {
        for (String branch : versions.repository().branches().keySet()) {
            for (ProposalRecord queued : store.queued(branch)) {
                ProposalRecord p = store.get(queued.id());
                if (p.status() == ProposalRecord.Status.ACCEPTED) {
                    guarded(() -> mergeNow(branch, List.of(p)));
                }
            }
        }
    }

    public PolicyConfig config() {
        return config;
    }

    @Override
    public ProposalRecord accepted(ProposalRecord r) {
        return switch (config.policy()) {
            case MANUAL -> r;
            case AUTO -> onMergeThread(() -> store.find(r.id()).filter(p -> p.status() == ProposalRecord.Status.ACCEPTED)
                    .map(p -> mergeNow(p.branch(), List.of(p)).getFirst()).orElseGet(() -> store.get(r.id())));
            case BATCH -> {
                thread.execute(() -> guarded(() -> mergeBatchIfFull(r.branch())));
                yield r;
            }
        };
    }

    /** A maintainer's decision: approve merges the proposal at once, reject drops it. */
    public ProposalRecord review(Principal who, String id, boolean approve, String message) {
        who.require(Role.MAINTAINER, "reviewing proposals");
        ledger.limits().checkMessage("review message", message);
        return onMergeThread(() -> {
            ProposalRecord p = store.get(id);
            if (p.status() != ProposalRecord.Status.ACCEPTED) {
                throw new CoordinatorException(CoordinatorException.Kind.FAILED_PRECONDITION,
                        "proposal " + id + " is " + p.status().name().toLowerCase() + "; only accepted proposals can be reviewed");
            }
            if (!approve) {
                return ledger.update(p, x -> x.reviewed(false, who.name(), message), true);
            }
            ProposalRecord approved = p.reviewed(true, who.name(), message);
            return mergeNow(p.branch(), List.of(approved)).getFirst();
        });
    }

    /**
     * What merging chosen proposals would give: the head it starts from, the engine's result with
     * statistics, and with a quality gate, the evaluator's scores of the head and the merged model.
     */
    public record Preview(String head, MergeResult result, OptionalDouble headScore, OptionalDouble mergedScore) {}

    /**
     * A maintainer merges chosen accepted proposals of {@code branch} with a chosen strategy, as
     * one merge commit like the policy's own; returns the proposals as merged.
     */
    public List<ProposalRecord> mergeSelected(Principal who, String branch, List<String> ids, Strategy strategy, MergeParameters parameters) {
        who.require(Role.MAINTAINER, "merging proposals");
        return onMergeThread(() -> {
            List<ProposalRecord> chosen = selected(branch, ids).stream().map(p -> p.reviewed(true, who.name(), "merged with " + strategy.id())).toList();
            MergeRunner.Merged m = runner.merge(branch, chosen, strategy, parameters);
            listener.merged(branch, new ObjectIdName(m.commit().name()), chosen.size(), m.took());
            return m.proposals();
        });
    }

    /** The statistics of merging chosen proposals, computed and thrown away: nothing is committed. */
    public Preview preview(Principal who, String branch, List<String> ids, Strategy strategy, MergeParameters parameters) {
        who.require(Role.MAINTAINER, "previewing a merge");
        MergeRunner.Preview p = runner.preview(branch, selected(branch, ids), strategy, parameters,
                evaluator);
        return new Preview(p.head().name(), p.result(), p.headScore(), p.mergedScore());
    }

    private List<ProposalRecord> selected(String branch, List<String> ids) {
        if (ids.isEmpty()) {
            throw new InvalidInputException("choose at least one proposal to merge");
        }
        if (new HashSet<>(ids).size() != ids.size()) {
            throw new InvalidInputException("a proposal is chosen twice: " + ids);
        }
        versions.requireHead(branch);
        List<ProposalRecord> out = new ArrayList<>();
        for (String id : ids) {
            ProposalRecord p = store.get(id);
            if (!p.branch().equals(branch)) {
                throw new InvalidInputException("proposal " + id + " is on branch '" + p.branch() + "', not '" + branch + "'");
            }
            if (p.status() != ProposalRecord.Status.ACCEPTED) {
                throw new CoordinatorException(CoordinatorException.Kind.FAILED_PRECONDITION,
                        "proposal " + id + " is " + p.status().name().toLowerCase() + "; only accepted proposals can be merged");
            }
            out.add(p);
        }
        return out;
    }

    /** Merges whatever waits on {@code branch} now (tests, shutdown, an operator's nudge); returns how many merged. */
    public int flush(String branch) {
        return onMergeThread(() -> {
            List<ProposalRecord> q = store.queued(branch);
            return q.isEmpty() ? 0 : mergeNow(branch, q).size();
        });
    }

    private void mergeBatchIfFull(String branch) {
        List<ProposalRecord> q = store.queued(branch);
        if (q.size() >= config.batchSize()) {
            mergeNow(branch, q);
        }
    }

    private void mergeDueBatches() {
        guarded(() -> {
            for (String branch : versions.repository().branches().keySet()) {
                List<ProposalRecord> q = store.queued(branch);
                if (!q.isEmpty() && (q.size() >= config.batchSize()
                        || q.getFirst().created().plus(config.batchDelay()).isBefore(Instant.now()))) {
                    mergeNow(branch, q);
                }
            }
        });
    }

    private List<ProposalRecord> mergeNow(String branch, List<ProposalRecord> batch) {
        if (mergeGate.isEmpty()) {
            return mergeOrRefuse(branch, batch);
        }
        MergeRunner.GateVerdict v = runner.gate(branch, batch, mergeGate.get());
        Map<String, ProposalRecord> done = new HashMap<>();
        // Proposals the gate leaves out are rejected with its reason, so they are not retried forever.
        v.refused().forEach((id, reason) -> done.put(id, ledger.update(store.get(id), x -> x.refused(reason), true)));
        if (!v.kept().isEmpty()) {
            mergeOrRefuse(branch, v.kept()).forEach(p -> done.put(p.id(), p));
        }
        return batch.stream().map(p -> done.get(p.id())).toList();
    }

    private List<ProposalRecord> mergeOrRefuse(String branch, List<ProposalRecord> batch) {
        MergeRunner.Merged m;
        try {
            m = runner.merge(branch, batch);
        } catch (MergeRunner.Refused e) {
            // The head stays; the batch is rejected with the reason, so it is not retried forever.
            failures.accept(e);
            return batch.stream().map(p -> ledger.update(store.get(p.id()), x -> x.refused(e.getMessage()), true)).toList();
        }
        listener.merged(branch, new ObjectIdName(m.commit().name()), batch.size(), m.took());
        return m.proposals();
    }

    private void guarded(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            failures.accept(e);
        }
    }

    private <T> T onMergeThread(java.util.concurrent.Callable<T> task) {
        try {
            return thread.submit(task).get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CoordinatorException(CoordinatorException.Kind.ABORTED, "interrupted while waiting for the merge");
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
        try {
            if (thread.awaitTermination(30, TimeUnit.SECONDS)) {
                runner.close(); // no merge runs any more: its momentum can go
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
