package dev.merit.store;

import dev.merit.codec.DecodedDelta;
import dev.merit.codec.DeltaCodec;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.SafetensorsWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.IntStream;

/**
 * Turns a manifest back into tensor bytes: keyframe chunks read from the store, then each
 * tensor's deltas applied in chain order. Used by checkout, the version cache and commits that
 * rebuild one tensor for a new keyframe.
 */
final class Materializer {

    private static final int CHUNK_BYTES = Repository.CHUNK_BYTES;

    private final RocksStore store;

    Materializer(RocksStore store) {
        this.store = store;
    }

    /** Writes manifest {@code m} to {@code out}; {@code durable} (fsync) for files Merit itself relies on, like the cache. */
    void write(Manifest m, Path out, ProgressListener progress, boolean durable) {
        long total = m.tensors().stream().mapToLong(e -> e.info().byteSize()).sum();
        progress.start("checkout", total);
        // Positional writes from small native buffers: filling a fresh memory mapping costs a page
        // fault per 4 KiB, which made checkouts several times slower than copying the bytes.
        try (SafetensorsWriter w = SafetensorsWriter.create(out, m.layout(), m.metadata(), SafetensorsWriter.Mode.POSITIONAL);
             Arena deltaArena = Arena.ofShared()) {
            // Sparse deltas are decoded once per tensor and applied chunk by chunk, so every chunk
            // streams through a 1 MiB buffer; low-rank deltas need the whole tensor.
            Map<Manifest.Entry, List<SparseTensorDelta>> sparse = new ConcurrentHashMap<>();
            List<Manifest.Entry> whole = new ArrayList<>();
            m.tensors().parallelStream().filter(e -> !e.deltas().isEmpty()).forEach(e -> {
                List<SparseTensorDelta> ds = decodeSparse(e, deltaArena);
                if (ds == null) {
                    synchronized (whole) {
                        whole.add(e);
                    }
                } else {
                    sparse.put(e, ds);
                }
            });
            record Task(Manifest.Entry entry, int chunk) {}
            List<Task> tasks = new ArrayList<>();
            for (Manifest.Entry e : m.tensors()) {
                if (whole.contains(e)) {
                    tasks.add(new Task(e, -1));
                } else {
                    for (int i = 0; i < e.keyframe().size(); i++) {
                        tasks.add(new Task(e, i));
                    }
                }
            }
            ThreadLocal<MemorySegment> buffers = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CHUNK_BYTES, 4096));
            tasks.parallelStream().forEach(t -> {
                String name = t.entry().info().name();
                if (t.chunk() >= 0) {
                    long size = chunkSize(t.entry(), t.chunk());
                    MemorySegment buf = buffers.get().asSlice(0, size);
                    readChunk(t.entry(), t.chunk(), buf);
                    long first = (long) t.chunk() * CHUNK_BYTES;
                    for (SparseTensorDelta d : sparse.getOrDefault(t.entry(), List.of())) {
                        applyRange(d, buf, first / t.entry().info().dtype().byteSize());
                    }
                    w.write(name, first, buf);
                    progress.advance(size);
                } else {
                    try (Arena arena = Arena.ofShared()) {
                        long size = t.entry().info().byteSize();
                        MemorySegment tensor = arena.allocate(Math.max(1, size), 4096).asSlice(0, size);
                        readTensor(t.entry(), tensor);
                        w.write(name, 0, tensor);
                        progress.advance(size);
                    }
                }
            });
            w.finish(durable);
        }
        progress.done();
    }

    /** The entry's deltas decoded, in chain order, or null if any is not sparse (low-rank). */
    private List<SparseTensorDelta> decodeSparse(Manifest.Entry e, Arena arena) {
        List<SparseTensorDelta> out = new ArrayList<>();
        for (ObjectId id : e.deltas()) {
            byte[] blob = store.get(ObjectKind.DELTA, id);
            if (blob == null) {
                throw new StoreException("tensor '" + e.info().name() + "': delta " + id + " is missing (run merit fsck)");
            }
            DecodedDelta d;
            try {
                d = DeltaCodec.decode(MemorySegment.ofArray(blob), StoredDeltas.decodeOptions(e.info()), arena);
            } catch (InvalidInputException bad) {
                throw new StoreException("tensor '" + e.info().name() + "': delta " + id + " is unreadable: "
                        + bad.getMessage() + " (run merit fsck)", bad);
            }
            if (!(d instanceof DecodedDelta.Sparse sp)) {
                return null;
            }
            out.add(sp.delta());
        }
        return out;
    }

    /** Applies the entries of {@code d} that fall in a chunk starting at element {@code firstElement}. */
    private static void applyRange(SparseTensorDelta d, MemorySegment chunk, long firstElement) {
        var dt = d.info().dtype();
        long end = firstElement + chunk.byteSize() / dt.byteSize();
        long lo = lowerBound(d, firstElement);
        int size = dt.byteSize();
        for (long i = lo; i < d.count(); i++) {
            long p = d.position(i);
            if (p >= end) {
                break;
            }
            long at = p - firstElement;
            if (d.semantics() == SparseTensorDelta.Semantics.SET) {
                MemorySegment.copy(d.values(), i * size, chunk, at * size, size);
            } else {
                dt.setFloat(chunk, at, dt.getFloat(chunk, at) + d.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i));
            }
        }
    }

    private static long lowerBound(SparseTensorDelta d, long position) {
        long lo = 0;
        long hi = d.count();
        while (lo < hi) {
            long mid = (lo + hi) >>> 1;
            if (d.position(mid) < position) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private static long chunkSize(Manifest.Entry e, int i) {
        return Math.min(CHUNK_BYTES, e.info().byteSize() - (long) i * CHUNK_BYTES);
    }

    private void readChunk(Manifest.Entry e, int i, MemorySegment target) {
        ObjectId id = e.keyframe().get(i);
        long n = store.readInto(ObjectKind.CHUNK, id, target);
        if (n != target.byteSize()) {
            throw new StoreException("tensor '" + e.info().name() + "': chunk " + id
                    + (n < 0 ? " is missing" : " has " + n + " bytes, expected " + target.byteSize()) + " (run merit fsck)");
        }
    }

    /** Rebuilds one tensor in {@code tensor}: its keyframe chunks (read in parallel), then its deltas in order. */
    void readTensor(Manifest.Entry e, MemorySegment tensor) {
        IntStream chunks = IntStream.range(0, e.keyframe().size());
        (Confinement.shareable(tensor) ? chunks.parallel() : chunks).forEach(i ->
                readChunk(e, i, tensor.asSlice((long) i * CHUNK_BYTES, chunkSize(e, i))));
        applyDeltas(e, tensor);
    }

    private void applyDeltas(Manifest.Entry e, MemorySegment tensor) {
        for (ObjectId id : e.deltas()) {
            byte[] blob = store.get(ObjectKind.DELTA, id);
            if (blob == null) {
                throw new StoreException("tensor '" + e.info().name() + "': delta " + id + " is missing (run merit fsck)");
            }
            try {
                StoredDeltas.apply(e.info(), blob, tensor);
            } catch (InvalidInputException bad) {
                throw new StoreException("tensor '" + e.info().name() + "': delta " + id + " is unreadable: "
                        + bad.getMessage() + " (run merit fsck)", bad);
            }
        }
    }
}
