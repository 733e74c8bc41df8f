package dev.merit.store;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * Hashes and stages new objects for one logical change. Tensor chunks are written as they come,
 * without the write-ahead log, and flushed to synced files before the final batch (they are
 * immutable and content-addressed, so a crash can only leave unreferenced chunks for
 * {@code gc}); everything that makes the change visible (deltas, manifest, commit, ref, reflog,
 * size rows) goes into the final batch, written atomically with the log.
 */
final class ObjectSink implements AutoCloseable {

    private final RocksStore store;
    private final RocksStore.Batch finalBatch;
    private final AtomicLong newBytes = new AtomicLong();
    private boolean unloggedChunks;
    private final java.util.Set<ObjectId> staged = new java.util.HashSet<>();

    ObjectSink(RocksStore store) {
        this.store = store;
        this.finalBatch = store.newBatch();
    }

    static ObjectId hash(ObjectKind kind, MemorySegment bytes) {
        MessageDigest md = ObjectId.newDigest();
        md.update(kind.tag());
        ByteBuffer bb = bytes.asByteBuffer();
        md.update(bb);
        return ObjectId.fromDigest(md);
    }

    static ObjectId hash(ObjectKind kind, byte[] bytes) {
        return hash(kind, MemorySegment.ofArray(bytes));
    }

    /** Splits {@code tensor} into chunks, stores those not yet present, and returns their ids in order. */
    List<ObjectId> putChunks(MemorySegment tensor, ProgressListener progress) {
        long size = tensor.byteSize();
        int n = (int) ((size + Repository.CHUNK_BYTES - 1) / Repository.CHUNK_BYTES);
        ObjectId[] ids = new ObjectId[n];
        IntStream range = IntStream.range(0, n);
        // Confined memory (a tensor rebuilt in the caller's own arena) is hashed on the caller's thread.
        (Confinement.shareable(tensor) ? range.parallel() : range).forEach(i -> {
            MemorySegment slice = chunk(tensor, i);
            ids[i] = hash(ObjectKind.CHUNK, slice);
            boolean fresh;
            synchronized (this) {
                fresh = !exists(ids[i]) && staged.add(ids[i]);
                if (fresh) {
                    // The size row goes with the logged final batch, after the chunks are flushed.
                    finalBatch.put(RocksStore.Table.SIZES, ids[i].rawUnsafe(), longBytes(slice.byteSize()));
                    unloggedChunks = true;
                }
            }
            if (fresh) {
                // Each thread writes its own chunks: no batch to copy into and no lock held while RocksDB works.
                store.putUnlogged(ObjectKind.CHUNK, ids[i], slice);
                newBytes.addAndGet(slice.byteSize());
            }
            progress.advance(slice.byteSize());
        });
        return List.of(ids);
    }

    static MemorySegment chunk(MemorySegment tensor, int i) {
        long off = (long) i * Repository.CHUNK_BYTES;
        return tensor.asSlice(off, Math.min(Repository.CHUNK_BYTES, tensor.byteSize() - off));
    }

    /** Existence is checked in the small size table, so no tensor bytes are read. */
    private boolean exists(ObjectId id) {
        return store.get(RocksStore.Table.SIZES, id.rawUnsafe()) != null;
    }

    /** Stages a small object (delta, manifest, commit) in the final batch; returns its id. */
    synchronized ObjectId putFinal(ObjectKind kind, byte[] bytes) {
        ObjectId id = hash(kind, bytes);
        if (!exists(id) && staged.add(id)) {
            finalBatch.put(kind, id, bytes);
            finalBatch.put(RocksStore.Table.SIZES, id.rawUnsafe(), longBytes(bytes.length));
            newBytes.addAndGet(bytes.length);
        }
        return id;
    }

    long newBytes() {
        return newBytes.get();
    }

    /** Writes the staged chunks; the final batch is left to the caller (usually a ref update). */
    synchronized RocksStore.Batch finish() {
        if (unloggedChunks) {
            // Chunks skipped the write-ahead log; make them durable before the batch that refers to them.
            store.flush(ObjectKind.CHUNK);
        }
        return finalBatch;
    }

    static byte[] longBytes(long v) {
        return ByteBuffer.allocate(Long.BYTES).putLong(v).array();
    }

    @Override
    public void close() {
        finalBatch.close();
    }

    static List<ObjectId> concat(List<ObjectId> a, ObjectId b) {
        List<ObjectId> out = new ArrayList<>(a);
        out.add(b);
        return out;
    }
}
