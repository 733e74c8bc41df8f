package dev.merit.store;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Events waiting to be published, in the order their transactions were written. A relay reads
 * {@link #pending}, publishes, then {@link #remove}s them; events survive crashes and restarts
 * until removed, so a broker outage only delays them.
 */
public final class Outbox {

    /** One queued event; {@code sequence} orders events and identifies them for removal. */
    public record Event(long sequence, String topic, String key, byte[] value) {}

    private final Repository repo;

    Outbox(Repository repo) {
        this.repo = repo;
    }

    /** The oldest {@code max} events. */
    public List<Event> pending(int max) {
        List<Event> out = new ArrayList<>();
        if (max <= 0) {
            return out;
        }
        repo.store().forEachWhile(repo.store().family(RocksStore.Table.OUTBOX), null, (k, v) -> {
            out.add(decode(ByteBuffer.wrap(k).getLong(), v));
            return out.size() < max;
        });
        return out;
    }

    /**
     * Removes published events. The highest sequence ever removed is kept, so numbering carries
     * on after the outbox empties and the repository is reopened.
     */
    public void remove(List<Event> events) {
        long high = highWater(repo.store());
        try (RocksStore.Batch b = repo.store().newBatch()) {
            for (Event e : events) {
                b.delete(RocksStore.Table.OUTBOX, key(e.sequence()));
                high = Math.max(high, e.sequence());
            }
            b.put(RocksStore.Table.META, HIGH_WATER, key(high));
            repo.store().write(b, true);
        }
    }

    private static final byte[] HIGH_WATER = "outbox-high-water".getBytes(StandardCharsets.US_ASCII);

    private static long highWater(RocksStore store) {
        byte[] v = store.get(RocksStore.Table.META, HIGH_WATER);
        return v == null ? 0 : ByteBuffer.wrap(v).getLong();
    }

    static byte[] key(long seq) {
        return ByteBuffer.allocate(Long.BYTES).putLong(seq).array();
    }

    /** The highest sequence used so far: still pending, or removed after publishing. */
    static long lastSequence(RocksStore store) {
        byte[] k = store.lastKey(RocksStore.Table.OUTBOX, new byte[0]);
        return Math.max(k == null ? 0 : ByteBuffer.wrap(k).getLong(), highWater(store));
    }

    static byte[] encode(String topic, String key, byte[] value) {
        byte[] t = topic.getBytes(StandardCharsets.UTF_8);
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + t.length + k.length + value.length)
                .putInt(t.length).put(t).putInt(k.length).put(k).put(value).array();
    }

    private static Event decode(long seq, byte[] v) {
        ByteBuffer b = ByteBuffer.wrap(v);
        byte[] t = new byte[b.getInt()];
        b.get(t);
        byte[] k = new byte[b.getInt()];
        b.get(k);
        byte[] value = new byte[b.remaining()];
        b.get(value);
        return new Event(seq, new String(t, StandardCharsets.UTF_8), new String(k, StandardCharsets.UTF_8), value);
    }
}
