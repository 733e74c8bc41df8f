package dev.merit.store;

import dev.merit.merge.MergeCheck;
import dev.merit.merge.MergeResult;
import dev.merit.merge.Merger;
import dev.merit.merge.SparseMergeResult;
import dev.merit.safetensors.SafetensorsFile;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A merge run so its result can be committed. When every input is sparse the engine computes
 * only the union of their positions and the commit stores the base plus those entries; otherwise
 * the merged model goes to a scratch file in {@code .merit/tmp} that the commit reads and
 * compares. Close it after the commit: that frees the changes and deletes the scratch file.
 *
 * <pre>{@code
 * try (MergeOutput m = MergeOutput.run(repo, merger)) {
 *     m.applyTo(repo.commit()).setMessage("...").call();
 * }
 * }</pre>
 */
public final class MergeOutput implements AutoCloseable {

    private final MergeResult result;
    private final SparseMergeResult sparse;
    private final Arena arena;
    private final Path scratch;
    private final SafetensorsFile merged;
    private final java.util.Map<String, String> metadata;

    private MergeOutput(MergeResult result, SparseMergeResult sparse, Arena arena, Path scratch,
                        SafetensorsFile merged, java.util.Map<String, String> metadata) {
        this.result = result;
        this.sparse = sparse;
        this.arena = arena;
        this.scratch = scratch;
        this.merged = merged;
        this.metadata = metadata;
    }

    /** Runs {@code merger}: sparsely when it can, else into a scratch file. */
    public static MergeOutput run(Repository repo, Merger merger) {
        if (merger.supportsSparse()) {
            Arena arena = Arena.ofShared();
            try {
                SparseMergeResult r = merger.mergeSparse(arena);
                return new MergeOutput(r.summary(), r, arena, null, null, merger.metadata());
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        }
        Path out = repo.tempDir().resolve("merge-" + System.nanoTime() + ".safetensors");
        try {
            MergeResult r = merger.mergeTo(out);
            return new MergeOutput(r, null, null, out, SafetensorsFile.open(out), merger.metadata());
        } catch (RuntimeException e) {
            deleteQuietly(out);
            throw e;
        }
    }

    /** True if only the changed entries were computed (the usual case for sparse proposals). */
    public boolean sparse() {
        return sparse != null;
    }

    public MergeResult result() {
        return result;
    }

    /** A sparse merge's changes (SET values on the base, valid until close); empty for a dense merge. */
    public java.util.Map<String, dev.merit.delta.SparseTensorDelta> sparseChanges() {
        return sparse == null ? java.util.Map.of() : sparse.changes();
    }

    /**
     * Checks the result against {@code base}, the model the merge was computed on: non-finite
     * values and the norms of the change, for a caller to refuse the commit.
     */
    public MergeCheck check(dev.merit.tensor.TensorSource base) {
        return sparse != null ? MergeCheck.ofChanges(base, sparse.changes()) : MergeCheck.ofModel(base, merged);
    }

    /** Points {@code commit} at the merged model: the changes on its parent, or the merged file. */
    public CommitCommand applyTo(CommitCommand commit) {
        return sparse != null ? commit.setChanges(sparse.changes()).setMetadata(metadata) : commit.setSource(merged);
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
        }
        if (merged != null) {
            merged.close();
            deleteQuietly(scratch);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover scratch file in .merit/tmp is harmless
        }
    }
}
