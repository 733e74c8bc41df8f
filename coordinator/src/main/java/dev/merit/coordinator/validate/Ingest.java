package dev.merit.coordinator.validate;

import dev.merit.codec.CorruptDeltaException;
import dev.merit.codec.DecodeOptions;
import dev.merit.codec.DecodedDelta;
import dev.merit.codec.DeltaChunkReader;
import dev.merit.delta.SparseTensorDelta;
import dev.merit.tensor.TensorInfo;
import dev.merit.wire.ProposalDigest;
import dev.merit.wire.ProposalSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a proposal's payload as it streams in, so a bad upload fails at the first bad chunk:
 * each tensor's delta goes through a {@link DeltaChunkReader} that expects the base's tensor
 * (name, dtype, shape; chunk lengths and checksums; positions in range and sorted), then is
 * decoded once complete for the number checks (ADD semantics, finite values, per-tensor norm);
 * its Fisher, if any, must hold one finite non-negative float32 per changed entry. Gram matrices
 * follow all tensors; each must hold finite values with a non-negative diagonal. The digest is
 * computed over the same bytes. Only one tensor (or Gram matrix) is held in memory at a time.
 */
public final class Ingest implements AutoCloseable {

    /** What the payload held, once {@link #finish()} passed. */
    public record Summary(long entries, double totalNorm, double[] tensorNorms, long[] tensorEntries, byte[] digest) {}

    private final ProposalSpec spec;
    private final ValidationConfig config;
    private final ProposalDigest digest;
    private final double[] norms;
    private final long[] counts;
    private int part;
    private boolean inFisher;
    private long inPart;
    private long offset;
    private DeltaChunkReader reader;
    private ByteBuffer fisher;
    private int gram;
    private byte[] gramBytes;

    /** {@code spec}'s parts must already match the base (see {@link HeaderCheck}). */
    public Ingest(ProposalSpec spec, ValidationConfig config) {
        this.spec = spec;
        this.config = config;
        this.digest = ProposalDigest.start(spec);
        this.norms = new double[spec.parts().size()];
        this.counts = new long[spec.parts().size()];
    }

    /** Bytes accepted so far. */
    public long offset() {
        return offset;
    }

    public void accept(byte[] data, int off, int len) throws Rejection {
        long declared = spec.payloadBytes();
        if (offset + len > declared) {
            throw new Rejection("structure", "payload runs past the declared " + declared + " bytes (at offset " + offset + ")");
        }
        digest.update(data, off, len);
        while (len > 0) {
            if (part == spec.parts().size()) {
                int n = acceptGram(data, off, len);
                off += n;
                len -= n;
                offset += n;
                continue;
            }
            ProposalSpec.Part p = spec.parts().get(part);
            long limit = inFisher ? p.fisherBytes() : p.deltaBytes();
            int n = (int) Math.min(len, limit - inPart);
            if (inFisher) {
                fisher.put(data, off, n);
            } else {
                if (reader == null) {
                    reader = new DeltaChunkReader(DecodeOptions.defaults().expecting(p.info()));
                }
                try {
                    reader.accept(MemorySegment.ofArray(Arrays.copyOfRange(data, off, off + n)));
                } catch (CorruptDeltaException e) {
                    throw new Rejection("structure", e.getMessage());
                }
            }
            inPart += n;
            off += n;
            len -= n;
            offset += n;
            if (inPart == limit) {
                endSection(p);
            }
        }
    }

    /** Takes bytes of the current Gram matrix; checks it once complete. Returns the bytes taken. */
    private int acceptGram(byte[] data, int off, int len) throws Rejection {
        ProposalSpec.Gram g = spec.grams().get(gram);
        if (gramBytes == null) {
            gramBytes = new byte[Math.toIntExact(g.bytes())];
        }
        int n = (int) Math.min(len, g.bytes() - inPart);
        System.arraycopy(data, off, gramBytes, (int) inPart, n);
        inPart += n;
        if (inPart == g.bytes()) {
            checkGram(g, MemorySegment.ofArray(gramBytes));
            gramBytes = null;
            inPart = 0;
            gram++;
        }
        return n;
    }

    private static void checkGram(ProposalSpec.Gram g, MemorySegment data) throws Rejection {
        TensorInfo t = g.info();
        boolean packed = t.rank() == 1;
        long in = packed ? (long) ((Math.sqrt(8.0 * t.shape()[0] + 1) - 1) / 2) : t.shape()[0];
        for (long i = 0; i < t.numel(); i++) {
            double v = t.dtype().getDouble(data, i);
            if (!Double.isFinite(v)) {
                throw new Rejection("numbers", "Gram matrix '" + t.name() + "': value " + v + " at index " + i + " is not finite");
            }
        }
        for (long k = 0; k < in; k++) {
            long idx = packed ? k * in - k * (k - 1) / 2 : k * in + k;
            double v = t.dtype().getDouble(data, idx);
            if (v < 0) {
                throw new Rejection("numbers", "Gram matrix '" + t.name() + "': diagonal entry (" + k + ", " + k + ") is " + v
                        + "; a Gram matrix has a diagonal >= 0");
            }
        }
    }

    private void endSection(ProposalSpec.Part p) throws Rejection {
        inPart = 0;
        if (!inFisher) {
            checkDelta(p);
            if (p.fisherBytes() > 0) {
                if (p.fisherBytes() != counts[part] * 4) {
                    throw new Rejection("structure", "tensor '" + p.info().name() + "': Fisher of " + p.fisherBytes()
                            + " bytes for " + counts[part] + " changed entries (expected " + counts[part] * 4 + ")");
                }
                inFisher = true;
                fisher = ByteBuffer.allocate(Math.toIntExact(p.fisherBytes())).order(ByteOrder.LITTLE_ENDIAN);
                return;
            }
        } else {
            checkFisher(p);
            inFisher = false;
            fisher = null;
        }
        part++;
    }

    private void checkDelta(ProposalSpec.Part p) throws Rejection {
        String what = "tensor '" + p.info().name() + "'";
        try (DeltaChunkReader r = reader; Arena arena = Arena.ofConfined()) {
            reader = null;
            if (!r.isComplete()) {
                throw new Rejection("structure", what + ": the declared " + p.deltaBytes() + " bytes end inside the encoded delta");
            }
            DecodedDelta decoded;
            try {
                decoded = r.decode(arena);
            } catch (CorruptDeltaException e) {
                throw new Rejection("structure", e.getMessage());
            }
            if (!(decoded instanceof DecodedDelta.Sparse s) || s.delta().semantics() != SparseTensorDelta.Semantics.ADD) {
                throw new Rejection("structure", what + ": a proposal carries sparse ADD deltas (float32 changes), not "
                        + (decoded instanceof DecodedDelta.Sparse s2 ? s2.delta().semantics() : "low-rank") + " deltas");
            }
            if (!p.info().dtype().isFloatingPoint()) {
                throw new Rejection("structure", what + " is " + p.info().dtype() + "; only floating-point tensors can change");
            }
            SparseTensorDelta d = s.delta();
            double sq = 0;
            for (long i = 0; i < d.count(); i++) {
                float v = d.values().getAtIndex(SparseTensorDelta.ADD_VALUE, i);
                if (!Float.isFinite(v)) {
                    throw new Rejection("numbers", what + ": change " + v + " at position " + d.position(i) + " is not finite");
                }
                sq += (double) v * v;
            }
            double norm = Math.sqrt(sq);
            if (norm > config.maxTensorNorm()) {
                throw new Rejection("numbers", String.format("%s: L2 norm of the change %.6g exceeds the limit %.6g", what, norm, config.maxTensorNorm()));
            }
            norms[part] = norm;
            counts[part] = d.count();
        }
    }

    private void checkFisher(ProposalSpec.Part p) throws Rejection {
        fisher.flip();
        for (int i = 0; fisher.remaining() >= 4; i++) {
            float f = fisher.getFloat();
            if (!Float.isFinite(f) || f < 0) {
                throw new Rejection("numbers", "tensor '" + p.info().name() + "': Fisher value " + f + " of changed entry " + i
                        + " is not a finite number >= 0");
            }
        }
    }

    /** Checks the payload is complete and matches the declared digest; returns what it held. */
    public Summary finish() throws Rejection {
        if (offset != spec.payloadBytes()) {
            throw new Rejection("structure", "payload ended after " + offset + " of the declared " + spec.payloadBytes() + " bytes");
        }
        byte[] actual = digest.finish();
        if (!MessageDigest.isEqual(actual, spec.digest())) {
            throw new Rejection("digest", "the payload hashes to " + java.util.HexFormat.of().formatHex(actual)
                    + ", the header declares " + spec.digestHex());
        }
        double sq = 0;
        long entries = 0;
        for (int i = 0; i < norms.length; i++) {
            sq += norms[i] * norms[i];
            entries += counts[i];
        }
        return new Summary(entries, Math.sqrt(sq), norms.clone(), counts.clone(), actual);
    }

    /** Lists tensors whose stream ended, for tests and messages. */
    List<String> completed() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < part; i++) {
            out.add(spec.parts().get(i).info().name());
        }
        return out;
    }

    @Override
    public void close() {
        if (reader != null) {
            reader.close();
            reader = null;
        }
    }
}
