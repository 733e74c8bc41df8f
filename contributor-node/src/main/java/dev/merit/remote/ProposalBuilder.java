package dev.merit.remote;

import dev.merit.codec.DeltaCodec;
import dev.merit.codec.EncodeOptions;
import dev.merit.codec.EncodeResult;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.delta.Sparsifier;
import dev.merit.delta.SparsifyResult;
import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import dev.merit.wire.Ed25519;
import dev.merit.wire.ProposalDigest;
import dev.merit.wire.ProposalSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Turns the change between a base version and a contributor's version into a signed proposal:
 * for each changed tensor an ADD delta (new - old in float32 at every changed entry) encoded with
 * the delta codec, plus, when a Fisher is given, its values at the changed entries, and, when
 * Gram matrices are given (regmean), each one's raw bytes after all tensors.
 *
 * <pre>{@code
 * ProposalUpload u = new ProposalBuilder(base, mine).fisher(f).encoding(EncodeOptions.defaults())
 *         .build("main", baseCommit, "alice", 1200, "fine-tune on shard 3", privateKey);
 * }</pre>
 */
public final class ProposalBuilder {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final TensorSource base;
    private final TensorSource updated;
    private TensorSource fisher;
    private TensorSource gram;
    private EncodeOptions encoding = EncodeOptions.defaults();

    public ProposalBuilder(TensorSource base, TensorSource updated) {
        this.base = Objects.requireNonNull(base);
        this.updated = Objects.requireNonNull(updated);
    }

    public ProposalBuilder fisher(TensorSource f) {
        this.fisher = f;
        return this;
    }

    /** Sends these Gram matrices (the format {@code merit train --regmean} writes) with the proposal. */
    public ProposalBuilder gram(TensorSource g) {
        this.gram = g;
        return this;
    }

    /** The Gram matrices as proposal sections, in the file's order; empty without {@link #gram}. */
    public List<GramPart> gramParts() {
        if (gram == null) {
            return List.of();
        }
        List<GramPart> out = new ArrayList<>();
        for (TensorInfo t : gram.tensors()) {
            out.add(new GramPart(t, gram.data(t.name()).toArray(ValueLayout.JAVA_BYTE)));
        }
        return out;
    }

    public ProposalBuilder encoding(EncodeOptions e) {
        this.encoding = Objects.requireNonNull(e);
        return this;
    }

    /**
     * The encoded parts of the change (unsigned); throws if the layout changed, or {@link
     * NothingToProposeException} if no entry changed.
     */
    public List<Part> parts() {
        List<Part> out = new ArrayList<>();
        try (Arena arena = Arena.ofShared()) {
            SparsifyResult changes = Sparsifier.allChanges().sparsify(base, updated, arena);
            List<TensorInfo> layout = base.tensors();
            for (int i = 0; i < layout.size(); i++) {
                TensorInfo t = layout.get(i);
                SparseTensorDelta set = changes.deltas().get(i);
                if (set.count() == 0) {
                    continue;
                }
                if (!t.dtype().isFloatingPoint()) {
                    throw new InvalidInputException("tensor '" + t.name() + "' is " + t.dtype()
                            + " and changed; a proposal may only change floating-point tensors");
                }
                out.add(encode(t, set, arena));
            }
        }
        if (out.isEmpty()) {
            throw new NothingToProposeException("nothing to propose: " + updated.describe() + " equals " + base.describe());
        }
        return out;
    }

    private Part encode(TensorInfo t, SparseTensorDelta set, Arena arena) {
        long k = set.count();
        MemorySegment values = arena.allocate(k * 4, 8);
        MemorySegment before = base.data(t.name());
        MemorySegment after = updated.data(t.name());
        DType dt = t.dtype();
        for (long j = 0; j < k; j++) {
            long p = set.position(j);
            values.setAtIndex(SparseTensorDelta.ADD_VALUE, j, (float) (dt.getDouble(after, p) - dt.getDouble(before, p)));
        }
        SparseTensorDelta add = new SparseTensorDelta(t, SparseTensorDelta.Semantics.ADD, k, set.positions(), values);
        EncodeResult r = DeltaCodec.encode(add, encoding, arena);
        byte[] enc = r.encoded().toArray(ValueLayout.JAVA_BYTE);
        byte[] fish = new byte[0];
        if (fisher != null) {
            TensorInfo fi = fisher.info(t.name()).orElseThrow(() -> new InvalidInputException(
                    fisher.describe() + ": Fisher has no tensor '" + t.name() + "'"));
            MemorySegment fs = fisher.data(t.name());
            MemorySegment out = MemorySegment.ofArray(fish = new byte[Math.toIntExact(k * 4)]);
            for (long j = 0; j < k; j++) {
                out.setAtIndex(F32, j, (float) fi.dtype().getDouble(fs, set.position(j)));
            }
        }
        return new Part(t, enc, fish, k);
    }

    /** One changed tensor, encoded. */
    public record Part(TensorInfo info, byte[] delta, byte[] fisher, long entries) {}

    /** One Gram matrix, its raw little-endian bytes. */
    public record GramPart(TensorInfo info, byte[] data) {}

    /** Builds and signs the proposal. */
    public ProposalUpload build(String branch, String baseVersion, String contributor, long examples, String message, PrivateKey key) {
        long gramExamples = gram == null ? 0 : dev.merit.merge.GramMatrix.examples(gram).orElse(0L);
        return sign(parts(), gramParts(), gramExamples, branch, baseVersion, contributor, examples, message, key);
    }

    /** Signs given parts (tests use this to send crafted payloads). */
    public static ProposalUpload sign(List<Part> parts, String branch, String baseVersion, String contributor, long examples,
                                      String message, PrivateKey key) {
        return sign(parts, List.of(), 0, branch, baseVersion, contributor, examples, message, key);
    }

    /** Signs given parts and Gram matrices. */
    public static ProposalUpload sign(List<Part> parts, List<GramPart> grams, long gramExamples, String branch, String baseVersion,
                                      String contributor, long examples, String message, PrivateKey key) {
        List<ProposalSpec.Part> specParts = new ArrayList<>();
        List<byte[]> sections = new ArrayList<>();
        for (Part p : parts) {
            specParts.add(new ProposalSpec.Part(p.info(), p.delta().length, p.fisher().length));
            sections.add(p.delta());
            if (p.fisher().length > 0) {
                sections.add(p.fisher());
            }
        }
        List<ProposalSpec.Gram> specGrams = new ArrayList<>();
        for (GramPart g : grams) {
            specGrams.add(new ProposalSpec.Gram(g.info(), g.data().length));
            sections.add(g.data());
        }
        ProposalSpec unsigned = new ProposalSpec(branch, baseVersion, contributor, examples, message, specParts, new byte[32],
                new byte[0], specGrams, gramExamples);
        ProposalDigest d = ProposalDigest.start(unsigned);
        for (byte[] s : sections) {
            d.update(s, 0, s.length);
        }
        byte[] digest = d.finish();
        ProposalSpec spec = unsigned.signed(digest, Ed25519.sign(key, digest));
        return new ProposalUpload(spec, sections);
    }
}
