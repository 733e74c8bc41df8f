package dev.merit.coordinator.policy;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Versions;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalService;
import dev.merit.coordinator.proposals.ProposalStore;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.MergeResult;
import dev.merit.merge.Strategy;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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

    /** Told about every merge (metrics). */
    public interface MergeListener {
        void merged(String branch, ObjectIdName commit, int proposals, Duration took);
    }

    /** A commit id as text, so listeners need not depend on the store's types. */
    public record ObjectIdName(String hex) {}

    private final PolicyConfig config;
    private final ProposalService proposals;
    private final ProposalStore store;
    private final Versions versions;
    private final MergeRunner runner;
    private final ScheduledExecutorService thread;
    private final Runnable eventsWritten;
    private volatile MergeListener listener = (b, c, n, d) -> {};
    private volatile Consumer<Throwable> failures = e -> {};

    public PolicyRunner(PolicyConfig config, ProposalService proposals, Versions versions, Runnable eventsWritten) {
        this.config = config;
        this.proposals = proposals;
        this.store = proposals.store();
        this.versions = versions;
        this.runner = new MergeRunner(store, versions, config);
        this.eventsWritten = eventsWritten;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "merit-merge");
            t.setDaemon(true);
            return t;
        });
        if (config.policy() == MergePolicy.BATCH) {
            long ms = Math.max(50, Math.min(1000, config.batchDelay().toMillis() / 4));
            thread.scheduleWithFixedDelay(this::mergeDueBatches, ms, ms, TimeUnit.MILLISECONDS);
        }
    }

    public PolicyConfig config() {
        return config;
    }

    public void setListener(MergeListener l) {
        this.listener = l;
    }

    /** Where failed background merges are reported (logs). */
    public void onFailure(Consumer<Throwable> f) {
        this.failures = f;
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
        return onMergeThread(() -> {
            ProposalRecord p = store.get(id);
            if (p.status() != ProposalRecord.Status.ACCEPTED) {
                throw new CoordinatorException(CoordinatorException.Kind.FAILED_PRECONDITION,
                        "proposal " + id + " is " + p.status().name().toLowerCase() + "; only accepted proposals can be reviewed");
            }
            if (!approve) {
                return proposals.update(p, x -> x.reviewed(false, who.name(), message), true);
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
            eventsWritten.run();
            listener.merged(branch, new ObjectIdName(m.commit().name()), chosen.size(), m.took());
            return m.proposals();
        });
    }

    /** The statistics of merging chosen proposals, computed and thrown away: nothing is committed. */
    public Preview preview(Principal who, String branch, List<String> ids, Strategy strategy, MergeParameters parameters) {
        who.require(Role.MAINTAINER, "previewing a merge");
        MergeRunner.Preview p = runner.preview(branch, selected(branch, ids), strategy, parameters,
                proposals.gate().map(QualityGate::evaluator));
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
        MergeRunner.Merged m = runner.merge(branch, batch);
        eventsWritten.run();
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
            thread.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
