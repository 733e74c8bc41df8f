package dev.merit.coordinator.proposals;

import dev.merit.error.NotFoundException;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * Proposals as records of the coordinator's repository: the proposal itself, its payload
 * (each tensor's encoded delta and Fisher as they arrived, and its Gram matrices with their layout), digest indexes for refusing
 * duplicates (of the signed proposal, and of the change itself across contributors), and a per-branch queue of accepted proposals waiting for a merge. Writers pass a
 * {@link Transaction} so these rows land atomically with the commit or event that goes with them.
 */
public final class ProposalStore {

    static final String PROPOSALS = "proposals";
    static final String DELTAS = "proposal-deltas";
    static final String FISHERS = "proposal-fishers";
    static final String GRAMS = "proposal-grams";
    static final String GRAM_LAYOUTS = "proposal-gram-layouts";
    static final String DIGESTS = "proposal-digests";
    static final String PAYLOADS = "proposal-payload-digests";
    static final String QUEUE = "merge-queue";

    private final Repository repo;
    private final AtomicLong lastId = new AtomicLong();

    public ProposalStore(Repository repo) {
        this.repo = repo;
        repo.scanRecords(PROPOSALS, "", (k, v) -> lastId.set(Math.max(lastId.get(), Long.parseLong(k))));
    }

    public Repository repository() {
        return repo;
    }

    public String nextId() {
        return "p" + lastId.incrementAndGet();
    }

    private static String key(String id) {
        if (!id.matches("p\\d{1,12}")) {
            throw new NotFoundException("proposal '" + id + "' not found (ids look like p17)");
        }
        return String.format("%012d", Long.parseLong(id.substring(1)));
    }

    public Optional<ProposalRecord> find(String id) {
        return repo.getRecord(PROPOSALS, key(id)).map(ProposalRecord::fromJson);
    }

    public ProposalRecord get(String id) {
        return find(id).orElseThrow(() -> new NotFoundException("proposal '" + id + "' not found"));
    }

    /** The id of an earlier proposal with this digest, if any. */
    public Optional<String> byDigest(String digestHex) {
        return repo.getRecord(DIGESTS, digestHex).map(b -> new String(b, java.nio.charset.StandardCharsets.UTF_8));
    }

    /** The id of an earlier proposal with the same change (payload digest), whoever sent or signed it. */
    public Optional<String> byPayload(String payloadHex) {
        return repo.getRecord(PAYLOADS, payloadHex).map(b -> new String(b, java.nio.charset.StandardCharsets.UTF_8));
    }

    public void indexPayload(Transaction tx, String payloadHex, ProposalRecord r) {
        tx.putRecord(PAYLOADS, payloadHex, r.id().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Newest first. */
    public List<ProposalRecord> list(Predicate<ProposalRecord> filter, int limit) {
        List<ProposalRecord> all = new ArrayList<>();
        repo.scanRecords(PROPOSALS, "", (k, v) -> {
            ProposalRecord r = ProposalRecord.fromJson(v);
            if (filter.test(r)) {
                all.add(r);
            }
        });
        all.sort(Comparator.comparing((ProposalRecord r) -> Long.parseLong(r.id().substring(1))).reversed());
        return all.size() > limit ? all.subList(0, limit) : all;
    }

    /** Accepted proposals of {@code branch} waiting for a merge, oldest first. */
    public List<ProposalRecord> queued(String branch) {
        List<String> ids = new ArrayList<>();
        repo.scanRecords(QUEUE, branch + "\0", (k, v) -> ids.add(new String(v, java.nio.charset.StandardCharsets.UTF_8)));
        return ids.stream().map(this::get).toList();
    }

    public void put(Transaction tx, ProposalRecord r) {
        tx.putRecord(PROPOSALS, key(r.id()), r.toJson());
    }

    public void indexDigest(Transaction tx, ProposalRecord r) {
        tx.putRecord(DIGESTS, r.digest(), r.id().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    public void enqueue(Transaction tx, ProposalRecord r) {
        tx.putRecord(QUEUE, r.branch() + "\0" + key(r.id()), r.id().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    public void dequeue(Transaction tx, ProposalRecord r) {
        tx.deleteRecord(QUEUE, r.branch() + "\0" + key(r.id()));
    }

    public void putPayload(Transaction tx, String id, int part, byte[] delta, byte[] fisher) {
        tx.putRecord(DELTAS, key(id) + "/" + part, delta);
        if (fisher != null && fisher.length > 0) {
            tx.putRecord(FISHERS, key(id) + "/" + part, fisher);
        }
    }

    public byte[] delta(String id, int part) {
        return repo.getRecord(DELTAS, key(id) + "/" + part).orElseThrow(() ->
                new NotFoundException("proposal " + id + ": payload of part " + part + " is missing"));
    }

    public Optional<byte[]> fisher(String id, int part) {
        return repo.getRecord(FISHERS, key(id) + "/" + part);
    }

    /** Stores a proposal's Gram matrices: their layout (one line per matrix) and each one's bytes. */
    public void putGrams(Transaction tx, String id, List<dev.merit.tensor.TensorInfo> layout, List<byte[]> data) {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < layout.size(); i++) {
            dev.merit.tensor.TensorInfo t = layout.get(i);
            lines.append(t.name()).append('\t').append(t.dtype().name());
            for (long d : t.shape()) {
                lines.append('\t').append(d);
            }
            lines.append('\n');
            tx.putRecord(GRAMS, key(id) + "/" + i, data.get(i));
        }
        tx.putRecord(GRAM_LAYOUTS, key(id), lines.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /** The layout of a proposal's Gram matrices, in the order they were sent; empty if it has none. */
    public List<dev.merit.tensor.TensorInfo> gramLayout(String id) {
        List<dev.merit.tensor.TensorInfo> out = new ArrayList<>();
        repo.getRecord(GRAM_LAYOUTS, key(id)).ifPresent(b -> {
            for (String line : new String(b, java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                if (line.isEmpty()) {
                    continue;
                }
                String[] f = line.split("\t");
                long[] shape = new long[f.length - 2];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = Long.parseLong(f[i + 2]);
                }
                out.add(new dev.merit.tensor.TensorInfo(f[0], dev.merit.tensor.DType.valueOf(f[1]), shape));
            }
        });
        return out;
    }

    public byte[] gram(String id, int index) {
        return repo.getRecord(GRAMS, key(id) + "/" + index).orElseThrow(() ->
                new NotFoundException("proposal " + id + ": Gram matrix " + index + " is missing"));
    }
}
