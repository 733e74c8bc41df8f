package dev.merit.coordinator;

import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.events.VersionEvent;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import dev.merit.store.RefUpdate;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Branch heads and version numbers of the coordinator's repository, the one way a branch moves
 * ({@link #advance}: compare-and-swap, outbox event, announcement), and the listeners told about
 * new versions. A version's number is its first-parent depth (the first commit is 0), so
 * staleness is a difference of numbers.
 */
public final class Versions {

    /**
     * Writes a new version and swaps its branch to it in one batch, to which it adds {@code rows}
     * (given the new commit's id); returns the new head, or throws if the branch moved meanwhile.
     */
    @FunctionalInterface
    public interface RefMove {
        ObjectId apply(BiConsumer<ObjectId, Transaction> rows);
    }

    /** A new commit on a branch. */
    public record NewVersion(String branch, ObjectId commit, List<ObjectId> parents, List<String> proposals,
                             String strategy, Instant time, long number) {}

    private final Repository repo;
    private final Map<ObjectId, Long> numbers = new ConcurrentHashMap<>();
    private final List<Consumer<NewVersion>> listeners = new CopyOnWriteArrayList<>();
    private final Runnable eventsWritten;

    public Versions(Repository repo) {
        this(repo, () -> {});
    }

    /** {@code eventsWritten} runs after each advance (it wakes the event relay). */
    public Versions(Repository repo, Runnable eventsWritten) {
        this.repo = repo;
        this.eventsWritten = eventsWritten;
    }

    /**
     * Moves {@code branch} to a new version: {@code move} writes it and swaps the ref, and its
     * {@code merit.versions} event goes in the same batch, so the version exists if and only if
     * its event does; then watchers are told. Publishing and merges both come through here.
     */
    public NewVersion advance(String branch, List<ObjectId> parents, List<String> proposals, String strategy, Instant time,
                              RefMove move) {
        ObjectId id = move.apply((commit, tx) -> {
            VersionEvent e = new VersionEvent(branch, commit.name(), parents.stream().map(ObjectId::name).toList(),
                    proposals, strategy, time);
            tx.addEvent(Topics.VERSIONS, e.key(), e.toJson());
        });
        eventsWritten.run();
        NewVersion v = new NewVersion(branch, id, List.copyOf(parents), List.copyOf(proposals), strategy, time, number(id));
        announce(v);
        return v;
    }

    /** Creates {@code branch} at {@code commit}, whose objects are all stored; fails if the branch exists. */
    public NewVersion create(String branch, ObjectId commit, String reflogMessage) {
        Commit c = repo.readCommit(commit);
        return advance(branch, c.parents(), List.of(), "publish", c.time(), rows -> {
            RefUpdate r = repo.updateBranch(branch, Optional.empty(), commit, reflogMessage, tx -> rows.accept(commit, tx));
            if (r == RefUpdate.LOCK_FAILURE) {
                throw new CoordinatorException(CoordinatorException.Kind.ALREADY_EXISTS, "branch '" + branch + "' was created meanwhile");
            }
            return commit;
        });
    }

    public Repository repository() {
        return repo;
    }

    public Optional<ObjectId> head(String branch) {
        return Optional.ofNullable(repo.branches().get(branch));
    }

    public ObjectId requireHead(String branch) {
        return head(branch).orElseThrow(() -> new NotFoundException("branch '" + branch + "' not found on the coordinator"));
    }

    /** First-parent depth of {@code commit}. */
    public long number(ObjectId commit) {
        Long known = numbers.get(commit);
        if (known != null) {
            return known;
        }
        List<ObjectId> chain = new ArrayList<>();
        ObjectId at = commit;
        long base = -1;
        while (at != null) {
            Long n = numbers.get(at);
            if (n != null) {
                base = n;
                break;
            }
            chain.add(at);
            List<ObjectId> ps = repo.readCommit(at).parents();
            at = ps.isEmpty() ? null : ps.get(0);
        }
        for (int i = chain.size() - 1; i >= 0; i--) {
            numbers.put(chain.get(i), ++base);
        }
        return numbers.get(commit);
    }

    /**
     * How many versions {@code head} is ahead of {@code base} on the first-parent chain; throws if
     * {@code base} is not on it.
     */
    public long distance(ObjectId base, ObjectId head, String branch) {
        Commit unused = readCommitOrFail(base, branch);
        long s = number(head) - number(base);
        ObjectId at = head;
        for (long i = 0; i < s && at != null; i++) {
            List<ObjectId> ps = repo.readCommit(at).parents();
            at = ps.isEmpty() ? null : ps.get(0);
        }
        if (s < 0 || !base.equals(at)) {
            throw new InvalidInputException("base version " + base.abbreviate(12) + " is not in the history of branch '" + branch + "'");
        }
        return s;
    }

    /** How many versions the head of {@code branch} is ahead of {@code base}; throws if the branch or base is unknown. */
    public long behindHead(ObjectId base, String branch) {
        return distance(base, requireHead(branch), branch);
    }

    private Commit readCommitOrFail(ObjectId id, String branch) {
        try {
            return repo.readCommit(id);
        } catch (NotFoundException e) {
            throw new InvalidInputException("base version " + id.abbreviate(12) + " is unknown to the coordinator (branch '" + branch + "')");
        }
    }

    public void addListener(Consumer<NewVersion> l) {
        listeners.add(l);
    }

    public void removeListener(Consumer<NewVersion> l) {
        listeners.remove(l);
    }

    public void announce(NewVersion v) {
        for (Consumer<NewVersion> l : listeners) {
            try {
                l.accept(v);
            } catch (RuntimeException e) {
                // one broken watcher must not stop the others (its stream is gone)
                listeners.remove(l);
            }
        }
    }
}
