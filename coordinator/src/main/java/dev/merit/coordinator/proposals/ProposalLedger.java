package dev.merit.coordinator.proposals;

import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.validate.Rejection;
import dev.merit.store.Transaction;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Writes proposal records: each decision with its {@code merit.proposals} event in one batch,
 * ids handed out under one lock so they follow the order of decisions. Shared by the service
 * that receives proposals and the policy that merges or reviews them, so neither calls the other.
 */
public final class ProposalLedger {

    private final ProposalStore store;
    private final Runnable eventsWritten;
    private final Object writeLock = new Object();

    /** {@code eventsWritten} runs after each batch that added an event (it wakes the relay). */
    public ProposalLedger(ProposalStore store, Runnable eventsWritten) {
        this.store = store;
        this.eventsWritten = eventsWritten;
    }

    public ProposalStore store() {
        return store;
    }

    /** Stores a rejected proposal made by {@code make} from its new id. */
    ProposalRecord rejected(Function<String, ProposalRecord> make) {
        ProposalRecord rec;
        synchronized (writeLock) {
            rec = make.apply(store.nextId());
            try (Transaction tx = store.repository().newTransaction()) {
                store.put(tx, rec);
                tx.addEvent(Topics.PROPOSALS, rec.id(), rec.eventJson());
                tx.commit();
            }
        }
        eventsWritten.run();
        return rec;
    }

    /**
     * Stores an accepted proposal made by {@code make} from its new id, with its payload written by
     * {@code payload}, and queues it for merging; a proposal with the same digest, or with the same
     * change ({@code payloadHex}, whoever signed it), stored meanwhile rejects it.
     */
    ProposalRecord accepted(String digestHex, String payloadHex, Function<String, ProposalRecord> make,
                            BiConsumer<Transaction, ProposalRecord> payload) throws Rejection {
        ProposalRecord rec;
        synchronized (writeLock) {
            Optional<String> dup = store.byDigest(digestHex);
            if (dup.isPresent()) {
                throw new Rejection("duplicate", "same digest as proposal " + dup.get());
            }
            Optional<String> same = store.byPayload(payloadHex);
            if (same.isPresent()) {
                String by = store.find(same.get()).map(ProposalRecord::contributor).orElse("?");
                throw new Rejection("duplicate", "the same change as proposal " + same.get() + " by '" + by
                        + "' (payload " + payloadHex.substring(0, 12) + "); a change is proposed once, whoever signs it");
            }
            rec = make.apply(store.nextId());
            try (Transaction tx = store.repository().newTransaction()) {
                payload.accept(tx, rec);
                store.put(tx, rec);
                store.indexDigest(tx, rec);
                store.indexPayload(tx, payloadHex, rec);
                store.enqueue(tx, rec);
                tx.addEvent(Topics.PROPOSALS, rec.id(), rec.eventJson());
                tx.commit();
            }
        }
        eventsWritten.run();
        return rec;
    }

    /** Rewrites a stored proposal (review decisions), with its event when it is now rejected, in one batch. */
    public ProposalRecord update(ProposalRecord r, UnaryOperator<ProposalRecord> change, boolean dequeue) {
        ProposalRecord next;
        synchronized (writeLock) {
            next = change.apply(r);
            try (Transaction tx = store.repository().newTransaction()) {
                store.put(tx, next);
                if (dequeue) {
                    store.dequeue(tx, next);
                }
                if (next.status() == ProposalRecord.Status.REJECTED) {
                    tx.addEvent(Topics.PROPOSALS, next.id(), next.eventJson());
                }
                tx.commit();
            }
        }
        eventsWritten.run();
        return next;
    }
}
