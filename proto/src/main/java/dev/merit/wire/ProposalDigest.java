package dev.merit.wire;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The digest a contributor signs: SHA-256 over a versioned, length-prefixed encoding of the
 * header fields (branch, base, contributor, example count, message, each part's tensor and sizes)
 * followed by every payload byte in order. Gram matrices, when a proposal carries them, are
 * covered too: their count, each one's tensor and size and the example count follow the parts
 * (absent when there are none, so digests of proposals without them are unchanged). Both ends compute it the same way, the client before
 * sending and the coordinator as bytes arrive, so a digest match proves the payload and the
 * declared header are the ones signed.
 */
public final class ProposalDigest {

    private static final byte[] DOMAIN = "merit-proposal\0v1\0".getBytes(StandardCharsets.US_ASCII);

    private final MessageDigest sha;

    private ProposalDigest(MessageDigest sha) {
        this.sha = sha;
    }

    /** Starts a digest over the header fields of {@code spec} (its digest and signature are not part of it). */
    public static ProposalDigest start(ProposalSpec spec) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        ProposalDigest d = new ProposalDigest(sha);
        sha.update(DOMAIN);
        d.string(spec.branch());
        d.string(spec.baseVersion());
        d.string(spec.contributor());
        d.number(spec.exampleCount());
        d.string(spec.message());
        d.number(spec.parts().size());
        for (ProposalSpec.Part p : spec.parts()) {
            d.string(p.info().name());
            d.string(p.info().dtype().name());
            d.number(p.info().rank());
            for (long dim : p.info().shape()) {
                d.number(dim);
            }
            d.number(p.deltaBytes());
            d.number(p.fisherBytes());
        }
        if (!spec.grams().isEmpty()) {
            d.string("grams");
            d.number(spec.grams().size());
            for (ProposalSpec.Gram g : spec.grams()) {
                d.string(g.info().name());
                d.string(g.info().dtype().name());
                d.number(g.info().rank());
                for (long dim : g.info().shape()) {
                    d.number(dim);
                }
                d.number(g.bytes());
            }
            d.number(spec.gramExamples());
        }
        return d;
    }

    public ProposalDigest update(byte[] b, int off, int len) {
        sha.update(b, off, len);
        return this;
    }

    public ProposalDigest update(ByteBuffer b) {
        sha.update(b);
        return this;
    }

    public byte[] finish() {
        return sha.digest();
    }

    private void string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        number(b.length);
        sha.update(b);
    }

    private void number(long v) {
        sha.update(ByteBuffer.allocate(Long.BYTES).putLong(v).array());
    }
}
