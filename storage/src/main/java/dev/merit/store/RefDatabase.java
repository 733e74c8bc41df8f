package dev.merit.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Branches ({@code refs/heads/*}), tags ({@code refs/tags/*}) and the symbolic {@code HEAD}.
 * Refs move only by compare-and-swap, and each move is written to the reflog in the same
 * atomic batch as the ref (and as any objects the caller adds to that batch).
 *
 * <p>RocksDB lets one process open a store, so a lock in this JVM is enough to make the
 * read-compare-write atomic.
 */
final class RefDatabase {

    static final String HEAD = "HEAD";
    static final String HEADS = "refs/heads/";
    static final String TAGS = "refs/tags/";
    private static final String SYMREF = "ref: ";

    private final RocksStore store;
    private final ReentrantLock lock = new ReentrantLock();

    RefDatabase(RocksStore store) {
        this.store = store;
    }

    /** The id a ref points at, following HEAD's symbolic link. */
    Optional<ObjectId> read(String ref) {
        String target = ref.equals(HEAD) ? headTarget() : ref;
        byte[] v = store.get(RocksStore.Table.REFS, key(target));
        return v == null ? Optional.empty() : Optional.of(ObjectId.fromString(new String(v, StandardCharsets.US_ASCII)));
    }

    /** The branch ref HEAD points at, e.g. {@code refs/heads/main}. */
    String headTarget() {
        byte[] v = store.get(RocksStore.Table.REFS, key(HEAD));
        if (v == null) {
            return HEADS + "main";
        }
        String s = new String(v, StandardCharsets.UTF_8);
        return s.startsWith(SYMREF) ? s.substring(SYMREF.length()) : HEAD;
    }

    void setHead(String branchRef) {
        try (RocksStore.Batch b = store.newBatch()) {
            b.put(RocksStore.Table.REFS, key(HEAD), (SYMREF + branchRef).getBytes(StandardCharsets.UTF_8));
            store.write(b, true);
        }
    }

    /**
     * Moves {@code ref} from {@code expected} (empty: must not exist) to {@code newId} (empty:
     * delete), writing {@code extra} in the same batch. The batch is only written if the swap
     * succeeds.
     */
    RefUpdate compareAndSwap(String ref, Optional<ObjectId> expected, Optional<ObjectId> newId,
                             String message, RocksStore.Batch extra) {
        String target = ref.equals(HEAD) ? headTarget() : ref;
        lock.lock();
        try {
            Optional<ObjectId> current = read(target);
            if (!current.equals(expected)) {
                return RefUpdate.LOCK_FAILURE;
            }
            if (current.equals(newId)) {
                if (extra.count() > 0) {
                    store.write(extra, true);
                }
                return RefUpdate.NO_CHANGE;
            }
            if (newId.isPresent()) {
                extra.put(RocksStore.Table.REFS, key(target), newId.get().name().getBytes(StandardCharsets.US_ASCII));
            } else {
                extra.delete(RocksStore.Table.REFS, key(target));
            }
            long seq = nextSequence(target);
            ObjectNode log = Json.MAPPER.createObjectNode();
            current.ifPresent(c -> log.put("old", c.name()));
            newId.ifPresent(n -> log.put("new", n.name()));
            log.put("time", Instant.now().toString());
            log.put("message", message);
            extra.put(RocksStore.Table.REFLOG, reflogKey(target, seq), Json.bytes(log));
            store.write(extra, true);
            if (newId.isEmpty()) {
                return RefUpdate.DELETED;
            }
            return current.isEmpty() ? RefUpdate.NEW : RefUpdate.UPDATED;
        } finally {
            lock.unlock();
        }
    }

    /** All refs under {@code prefix} with their ids, sorted by name. */
    TreeMap<String, ObjectId> list(String prefix) {
        TreeMap<String, ObjectId> out = new TreeMap<>();
        store.forEach(store.family(RocksStore.Table.REFS), key(prefix), (k, v) -> {
            String name = new String(k, StandardCharsets.UTF_8);
            String val = new String(v, StandardCharsets.UTF_8);
            if (!val.startsWith(SYMREF)) {
                out.put(name, ObjectId.fromString(val));
            }
        });
        return out;
    }

    /** The reflog of {@code ref}, newest first. */
    List<ReflogEntry> reflog(String ref) {
        String target = ref.equals(HEAD) ? headTarget() : ref;
        List<ReflogEntry> out = new ArrayList<>();
        byte[] prefix = reflogPrefix(target);
        store.forEach(store.family(RocksStore.Table.REFLOG), prefix, (k, v) -> out.add(parseReflog(target, k, v)));
        java.util.Collections.reverse(out);
        return out;
    }

    /** Every reflog entry of every ref, for reachability in fsck and gc. */
    List<ReflogEntry> allReflogs() {
        List<ReflogEntry> out = new ArrayList<>();
        store.forEach(store.family(RocksStore.Table.REFLOG), null, (k, v) -> {
            int zero = indexOfZero(k);
            out.add(parseReflog(new String(k, 0, zero, StandardCharsets.UTF_8), k, v));
        });
        return out;
    }

    private static ReflogEntry parseReflog(String ref, byte[] k, byte[] v) {
        long seq = ByteBuffer.wrap(k, k.length - Long.BYTES, Long.BYTES).getLong();
        JsonNode n = Json.parse("reflog of " + ref, v);
        return new ReflogEntry(ref, seq,
                n.hasNonNull("old") ? Optional.of(ObjectId.fromString(n.get("old").asText())) : Optional.empty(),
                n.hasNonNull("new") ? Optional.of(ObjectId.fromString(n.get("new").asText())) : Optional.empty(),
                Instant.parse(n.path("time").asText()), n.path("message").asText());
    }

    private long nextSequence(String ref) {
        byte[] last = store.lastKey(RocksStore.Table.REFLOG, reflogPrefix(ref));
        return last == null ? 1 : ByteBuffer.wrap(last, last.length - Long.BYTES, Long.BYTES).getLong() + 1;
    }

    private static int indexOfZero(byte[] k) {
        for (int i = 0; i < k.length; i++) {
            if (k[i] == 0) {
                return i;
            }
        }
        return k.length;
    }

    private static byte[] key(String ref) {
        return ref.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] reflogPrefix(String ref) {
        byte[] r = key(ref);
        byte[] out = new byte[r.length + 1];
        System.arraycopy(r, 0, out, 0, r.length);
        return out;
    }

    private static byte[] reflogKey(String ref, long seq) {
        byte[] p = reflogPrefix(ref);
        return ByteBuffer.allocate(p.length + Long.BYTES).put(p).putLong(seq).array();
    }
}
