package dev.merit.wire;

import com.google.protobuf.ByteString;
import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.ProposalHeader;
import dev.merit.proto.v1.TensorPayload;
import dev.merit.proto.v1.TensorSpec;
import dev.merit.store.ObjectId;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * The conversions both ends of the wire need: tensor identities, object ids and the proposal
 * header. A message from the other side is checked as it is converted, so a malformed one fails
 * here with a message naming the field.
 */
public final class WireConvert {

    private WireConvert() {}

    public static TensorSpec spec(TensorInfo t) {
        TensorSpec.Builder b = TensorSpec.newBuilder().setName(t.name()).setDtype(t.dtype().name());
        for (long d : t.shape()) {
            b.addShape(d);
        }
        return b.build();
    }

    public static TensorInfo info(TensorSpec s) {
        DType dt;
        try {
            dt = DType.valueOf(s.getDtype());
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("tensor '" + s.getName() + "': unknown dtype '" + s.getDtype() + "'");
        }
        long[] shape = s.getShapeList().stream().mapToLong(Long::longValue).toArray();
        TensorInfo t;
        try {
            t = new TensorInfo(s.getName(), dt, shape);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(e.getMessage());
        }
        try {
            t.byteSize();
        } catch (ArithmeticException e) {
            // Refused here, so no later numel() or byteSize() on a peer's tensor can overflow.
            throw new InvalidInputException("tensor '" + s.getName() + "': shape " + t.shapeString() + " of " + dt
                    + " holds more than 2^63 bytes");
        }
        return t;
    }

    public static ProposalHeader header(ProposalSpec s, long resumeOffset) {
        ProposalHeader.Builder b = ProposalHeader.newBuilder().setUploadId(s.uploadId()).setBranch(s.branch())
                .setBaseVersion(s.baseVersion()).setContributor(s.contributor()).setExampleCount(s.exampleCount())
                .setMessage(s.message()).setDigest(ByteString.copyFrom(s.digest()))
                .setSignature(ByteString.copyFrom(s.signature())).setResumeOffset(resumeOffset);
        for (ProposalSpec.Part p : s.parts()) {
            b.addTensors(TensorPayload.newBuilder().setSpec(spec(p.info())).setDeltaBytes(p.deltaBytes()).setFisherBytes(p.fisherBytes()));
        }
        for (ProposalSpec.Gram g : s.grams()) {
            b.addGrams(dev.merit.proto.v1.GramPayload.newBuilder().setSpec(spec(g.info())).setBytes(g.bytes()));
        }
        b.setGramExamples(s.gramExamples());
        return b.build();
    }

    public static ProposalSpec spec(ProposalHeader h) {
        List<ProposalSpec.Part> parts = new ArrayList<>();
        for (TensorPayload t : h.getTensorsList()) {
            parts.add(new ProposalSpec.Part(info(t.getSpec()), t.getDeltaBytes(), t.getFisherBytes()));
        }
        if (h.getDigest().size() != 32) {
            throw new InvalidInputException("proposal header: digest has " + h.getDigest().size() + " bytes, expected 32 (SHA-256)");
        }
        List<ProposalSpec.Gram> grams = new ArrayList<>();
        for (dev.merit.proto.v1.GramPayload g : h.getGramsList()) {
            grams.add(new ProposalSpec.Gram(info(g.getSpec()), g.getBytes()));
        }
        ProposalSpec s = new ProposalSpec(h.getBranch(), h.getBaseVersion(), h.getContributor(), h.getExampleCount(),
                h.getMessage(), parts, h.getDigest().toByteArray(), h.getSignature().toByteArray(), grams, h.getGramExamples());
        if (!s.uploadId().equals(h.getUploadId())) {
            throw new InvalidInputException("proposal header: upload id '" + h.getUploadId() + "' is not the digest " + s.uploadId());
        }
        return s;
    }

    public static dev.merit.proto.v1.ObjectId id(ObjectId id) {
        return dev.merit.proto.v1.ObjectId.newBuilder().setSha256(ByteString.copyFrom(id.toRaw())).build();
    }

    public static ObjectId id(dev.merit.proto.v1.ObjectId id) {
        if (id.getSha256().size() != ObjectId.LENGTH) {
            throw new InvalidInputException("object id has " + id.getSha256().size() + " bytes, expected " + ObjectId.LENGTH);
        }
        return ObjectId.fromRaw(id.getSha256().toByteArray());
    }
}
