package dev.merit.wire;

import dev.merit.tensor.TensorInfo;
import java.util.HexFormat;
import java.util.List;

/**
 * What a contributor declares before sending a proposal's payload: where it applies, who made
 * it, which tensors it changes and how many bytes each takes, and the signed digest.
 *
 * @param branch       the branch it proposes to change
 * @param baseVersion  commit id (hex) the delta was computed against
 * @param contributor  the proposer; must be the caller's token name
 * @param exampleCount training examples behind it, 0 if unknown
 * @param message      free text
 * @param parts        changed tensors in the base's order
 * @param digest       SHA-256 by {@link ProposalDigest}
 * @param signature    Ed25519 signature of {@code digest}
 * @param grams        RegMean Gram matrices sent after all parts' bytes, in this order (empty: none)
 * @param gramExamples examples the Gram matrices were computed over, 0 if unknown
 */
public record ProposalSpec(String branch, String baseVersion, String contributor, long exampleCount, String message,
                           List<Part> parts, byte[] digest, byte[] signature, List<Gram> grams, long gramExamples) {

    /**
     * One linear layer's input Gram matrix: named like the layer's weight, F32 or F16, packed upper
     * triangle {@code [in * (in + 1) / 2]} or full {@code [in, in]}; {@code bytes} of raw
     * little-endian values.
     */
    public record Gram(TensorInfo info, long bytes) {}

    /** A proposal without Gram matrices. */
    public ProposalSpec(String branch, String baseVersion, String contributor, long exampleCount, String message,
                        List<Part> parts, byte[] digest, byte[] signature) {
        this(branch, baseVersion, contributor, exampleCount, message, parts, digest, signature, List.of(), 0);
    }

    /** One changed tensor: its identity and payload sizes (encoded delta, then float32 Fisher or nothing). */
    public record Part(TensorInfo info, long deltaBytes, long fisherBytes) {
        public long bytes() {
            return deltaBytes + fisherBytes;
        }
    }

    public ProposalSpec {
        parts = List.copyOf(parts);
        grams = List.copyOf(grams);
        digest = digest.clone();
        signature = signature.clone();
        message = message == null ? "" : message;
    }

    @Override
    public byte[] digest() {
        return digest.clone();
    }

    @Override
    public byte[] signature() {
        return signature.clone();
    }

    public String digestHex() {
        return HexFormat.of().formatHex(digest);
    }

    /** The upload's id: the digest, so the same proposal resumes the same upload. */
    public String uploadId() {
        return digestHex();
    }

    /** Every payload byte: the parts' deltas and Fishers, then the Gram matrices. */
    public long payloadBytes() {
        return parts.stream().mapToLong(Part::bytes).sum() + gramBytes();
    }

    public long gramBytes() {
        return grams.stream().mapToLong(Gram::bytes).sum();
    }

    public boolean hasGram() {
        return !grams.isEmpty();
    }

    /** This spec with another digest and signature (signing fills them in). */
    public ProposalSpec signed(byte[] digest, byte[] signature) {
        return new ProposalSpec(branch, baseVersion, contributor, exampleCount, message, parts, digest, signature, grams, gramExamples);
    }

    public boolean hasFisher() {
        return !parts.isEmpty() && parts.stream().allMatch(p -> p.fisherBytes() > 0);
    }
}
