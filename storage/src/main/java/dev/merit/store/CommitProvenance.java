package dev.merit.store;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * The sections of a commit's provenance that Merit itself writes, as typed fields: what tool and
 * platform made it, how the change was selected, what its deltas cost and what its Fisher took.
 * Read from {@link Commit#provenance()} (which callers may extend with sections of their own, such
 * as a coordinator's {@code merge}); sections a commit does not have are empty.
 *
 * <pre>{@code
 * CommitProvenance p = CommitProvenance.of(commit);
 * p.deltas().ifPresent(d -> System.out.println(d.changedEntries() + " entries in " + d.encodedBytes() + " bytes"));
 * }</pre>
 */
public record CommitProvenance(Optional<String> tool, Optional<String> java, Optional<String> os, Optional<String> source,
                               Optional<Selection> selection, Optional<Deltas> deltas, long fisherBytes) {

    /** Commits before the format field count as format 1, the only one so far. */
    public static final int FORMAT = 1;

    /**
     * How the stored change was chosen from the full change.
     *
     * @param mode             {@code lossless}, {@code density}, {@code norm}, ...
     * @param keptNormFraction the fraction of the change's L2 norm kept, for lossy selections
     * @param values           the value coding of lossy deltas ({@code fp16}, {@code int8}, ...)
     */
    public record Selection(String mode, long keptEntries, OptionalDouble keptNormFraction, Optional<String> values,
                            Optional<Integer> lowRank) {}

    /** What the commit's deltas cost: entries, encoded size against dense float32, bits per entry. */
    public record Deltas(long tensors, long changedEntries, long encodedBytes, long denseF32Bytes, long positionBits,
                         long valueBits, double positionBitsPerEntry, double valueBitsPerEntry) {}

    public static CommitProvenance of(Commit c) {
        return of(c.provenance());
    }

    public static CommitProvenance of(JsonNode provenance) {
        return RecordJson.read("commit provenance", provenance, CommitProvenance.class, FORMAT, FORMAT);
    }
}
