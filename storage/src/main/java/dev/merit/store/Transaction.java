package dev.merit.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Rows a front end writes atomically with a change to the repository: its own records
 * (proposals, tokens, keys, under a namespace) and outbox events, which a relay later publishes
 * (e.g. to Kafka) and removes. Obtained from {@link Repository#newTransaction()} or handed to a
 * {@link CommitCommand} callback, so a commit and the events describing it land together.
 */
public final class Transaction implements AutoCloseable {

    private final Repository repo;
    private final RocksStore.Batch batch;
    private final boolean owned;

    Transaction(Repository repo, RocksStore.Batch batch, boolean owned) {
        this.repo = repo;
        this.batch = batch;
        this.owned = owned;
    }

    public Transaction putRecord(String namespace, String key, byte[] value) {
        batch.put(RocksStore.Table.RECORDS, recordKey(namespace, key), value);
        return this;
    }

    public Transaction deleteRecord(String namespace, String key) {
        batch.delete(RocksStore.Table.RECORDS, recordKey(namespace, key));
        return this;
    }

    /** Queues an event for {@code topic}; it is published after this transaction is written. */
    public Transaction addEvent(String topic, String key, byte[] value) {
        long seq = repo.nextOutboxSequence();
        batch.put(RocksStore.Table.OUTBOX, Outbox.key(seq), Outbox.encode(topic, key, value));
        return this;
    }

    /** Writes everything atomically and durably. Only for transactions from {@link Repository#newTransaction()}. */
    public void commit() {
        if (!owned) {
            throw new IllegalStateException("this transaction is written by the command that handed it out");
        }
        repo.store().write(batch, true);
    }

    @Override
    public void close() {
        if (owned) {
            batch.close();
        }
    }

    static byte[] recordKey(String namespace, String key) {
        byte[] ns = namespace.getBytes(StandardCharsets.UTF_8);
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(ns.length + 1 + k.length).put(ns).put((byte) 0).put(k).array();
    }
}
