package dev.merit.store;

import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * A commit's diagonal Fisher, stored only where the commit changed the model: per tensor a
 * keyframe of zeros (all-zero chunks, stored once per repository and shared by every tensor
 * and commit) and one SET delta holding the Fisher's values at the committed change's
 * positions, encoded like the change itself. A 1% commit's Fisher therefore costs about what
 * its delta costs, not a dense copy of the model. Tensors stored whole (new, changed layout,
 * low-rank changes) keep their whole Fisher; unchanged tensors have only zeros. Materialized,
 * it is a Fisher file that is 0 wherever the commit changed nothing, which is what merges read:
 * the Fisher at the entries a revision changed.
 */
final class ChangedFisher {

    /** Manifest metadata marking this layout. */
    static final String FORMAT_KEY = "merit.fisher";
    static final String AT_CHANGES = "changed-entries";

    private ChangedFisher() {}

    /**
     * Stores the Fisher manifest; returns its id.
     *
     * @param changes     the commit's selected changes per tensor (their positions are kept)
     * @param storedWhole tensors whose change is not a set of positions (new, layout changed, low rank)
     */
    static ObjectId store(TensorSource fisher, List<TensorInfo> layout, Map<String, SparseTensorDelta> changes,
                          Predicate<String> storedWhole, ObjectSink sink) {
        Map<Long, List<ObjectId>> zeroTails = new HashMap<>();
        List<Manifest.Entry> entries = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            ObjectId zeroChunk = null;
            for (TensorInfo model : layout) {
                String name = model.name();
                TensorInfo t = fisher.info(name).orElseThrow();
                SparseTensorDelta change = changes.get(name);
                if (storedWhole.test(name)) {
                    entries.add(new Manifest.Entry(t, sink.putChunks(fisher.data(name), ProgressListener.NONE), List.of(), 0));
                    continue;
                }
                if (zeroChunk == null && t.byteSize() >= Repository.CHUNK_BYTES) {
                    zeroChunk = sink.putChunks(arena.allocate(Repository.CHUNK_BYTES, 8), ProgressListener.NONE).getFirst();
                }
                List<ObjectId> zeros = zeroKeyframe(t.byteSize(), zeroChunk, zeroTails, arena, sink);
                if (change == null || change.count() == 0) {
                    entries.add(new Manifest.Entry(t, zeros, List.of(), 0));
                    continue;
                }
                byte[] blob = encodeAt(t, fisher.data(name), change, arena);
                entries.add(new Manifest.Entry(t, zeros, List.of(sink.putFinal(ObjectKind.DELTA, blob)), blob.length));
            }
        }
        return sink.putFinal(ObjectKind.MANIFEST, new Manifest(entries, Map.of(FORMAT_KEY, AT_CHANGES)).encode());
    }

    /** Chunk ids of {@code bytes} zero bytes: the shared zero chunk repeated, then a zero tail. */
    private static List<ObjectId> zeroKeyframe(long bytes, ObjectId zeroChunk, Map<Long, List<ObjectId>> tails,
                                               Arena arena, ObjectSink sink) {
        List<ObjectId> ids = new ArrayList<>();
        for (long k = 0; k < bytes / Repository.CHUNK_BYTES; k++) {
            ids.add(zeroChunk);
        }
        long tail = bytes % Repository.CHUNK_BYTES;
        if (tail > 0) {
            ids.addAll(tails.computeIfAbsent(tail, b -> sink.putChunks(arena.allocate(b, 8), ProgressListener.NONE)));
        }
        return ids;
    }

    /** The Fisher's values at the change's positions as a SET delta in the Fisher's dtype, encoded losslessly. */
    private static byte[] encodeAt(TensorInfo t, MemorySegment data, SparseTensorDelta change, Arena arena) {
        int es = t.dtype().byteSize();
        long count = change.count();
        MemorySegment values = arena.allocate(Math.max(1, count * es), 8);
        for (long k = 0; k < count; k++) {
            MemorySegment.copy(data, change.position(k) * es, values, k * es, es);
        }
        SparseTensorDelta set = new SparseTensorDelta(t, SparseTensorDelta.Semantics.SET, count,
                change.positions(), values);
        return DeltaCodec.encode(set, EncodeOptions.defaults(), arena).encoded().toArray(ValueLayout.JAVA_BYTE);
    }
}
