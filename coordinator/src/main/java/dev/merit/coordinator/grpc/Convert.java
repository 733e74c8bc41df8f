package dev.merit.coordinator.grpc;

import dev.merit.coordinator.Versions;
import dev.merit.coordinator.auth.Principal;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.proposals.ProposalSpec;
import dev.merit.coordinator.validate.CheckResult;
import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.Check;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalHeader;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.TensorPayload;
import dev.merit.proto.v1.TensorSpec;
import dev.merit.proto.v1.VersionEvent;
import dev.merit.store.ObjectId;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Every proto <-> domain conversion of the coordinator. */
public final class Convert {

    private Convert() {}

    public static TensorSpec spec(TensorInfo t) {
        TensorSpec.Builder b = TensorSpec.newBuilder().setName(t.name()).setDtype(t.dtype().name());
        for (long d : t.shape()) {
            b.addShape(d);
        }
        return b.build();
    }

    static TensorInfo info(TensorSpec s) {
        DType dt;
        try {
            dt = DType.valueOf(s.getDtype());
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("tensor '" + s.getName() + "': unknown dtype '" + s.getDtype() + "'");
        }
        long[] shape = s.getShapeList().stream().mapToLong(Long::longValue).toArray();
        try {
            return new TensorInfo(s.getName(), dt, shape);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException(e.getMessage());
        }
    }

    public static ProposalHeader header(ProposalSpec s, long resumeOffset) {
        ProposalHeader.Builder b = ProposalHeader.newBuilder().setUploadId(s.uploadId()).setBranch(s.branch())
                .setBaseVersion(s.baseVersion()).setContributor(s.contributor()).setExampleCount(s.exampleCount())
                .setMessage(s.message()).setDigest(com.google.protobuf.ByteString.copyFrom(s.digest()))
                .setSignature(com.google.protobuf.ByteString.copyFrom(s.signature())).setResumeOffset(resumeOffset);
        for (ProposalSpec.Part p : s.parts()) {
            b.addTensors(TensorPayload.newBuilder().setSpec(spec(p.info())).setDeltaBytes(p.deltaBytes()).setFisherBytes(p.fisherBytes()));
        }
        return b.build();
    }

    static ProposalSpec spec(ProposalHeader h) {
        List<ProposalSpec.Part> parts = new ArrayList<>();
        for (TensorPayload t : h.getTensorsList()) {
            parts.add(new ProposalSpec.Part(info(t.getSpec()), t.getDeltaBytes(), t.getFisherBytes()));
        }
        if (h.getDigest().size() != 32) {
            throw new InvalidInputException("proposal header: digest has " + h.getDigest().size() + " bytes, expected 32 (SHA-256)");
        }
        ProposalSpec s = new ProposalSpec(h.getBranch(), h.getBaseVersion(), h.getContributor(), h.getExampleCount(),
                h.getMessage(), parts, h.getDigest().toByteArray(), h.getSignature().toByteArray());
        if (!s.uploadId().equals(h.getUploadId())) {
            throw new InvalidInputException("proposal header: upload id '" + h.getUploadId() + "' is not the digest " + s.uploadId());
        }
        return s;
    }

    static Proposal proposal(ProposalRecord r) {
        Proposal.Builder b = Proposal.newBuilder().setId(r.id()).setBranch(r.branch()).setContributor(r.contributor())
                .setBaseVersion(r.baseVersion()).setStatus(status(r.status())).addAllReasons(r.reasons())
                .setDigest(r.digest()).setStaleness(r.staleness()).setStalenessWeight(r.stalenessWeight())
                .setExampleCount(r.exampleCount()).setHasFisher(r.hasFisher()).setEntries(r.entries())
                .setDensity(r.density()).setNorm(r.norm()).setPayloadBytes(r.payloadBytes()).setMessage(r.message())
                .setCreatedUnixMs(r.created().toEpochMilli());
        for (CheckResult c : r.checks()) {
            b.addChecks(Check.newBuilder().setName(c.name()).setPassed(c.passed()).setDetail(c.detail()));
        }
        r.mergedIn().ifPresent(b::setMergedIn);
        r.review().ifPresent(b::setReview);
        return b.build();
    }

    static ProposalStatus status(ProposalRecord.Status s) {
        return switch (s) {
            case ACCEPTED -> ProposalStatus.ACCEPTED;
            case REJECTED -> ProposalStatus.REJECTED;
            case MERGED -> ProposalStatus.MERGED;
        };
    }

    static Optional<ProposalRecord.Status> status(ProposalStatus s) {
        return switch (s) {
            case ACCEPTED -> Optional.of(ProposalRecord.Status.ACCEPTED);
            case REJECTED -> Optional.of(ProposalRecord.Status.REJECTED);
            case MERGED -> Optional.of(ProposalRecord.Status.MERGED);
            default -> Optional.empty();
        };
    }

    static dev.merit.proto.v1.Role role(Role r) {
        return switch (r) {
            case READER -> dev.merit.proto.v1.Role.READER;
            case CONTRIBUTOR -> dev.merit.proto.v1.Role.CONTRIBUTOR;
            case MAINTAINER -> dev.merit.proto.v1.Role.MAINTAINER;
        };
    }

    static Role role(dev.merit.proto.v1.Role r) {
        return switch (r) {
            case READER -> Role.READER;
            case CONTRIBUTOR -> Role.CONTRIBUTOR;
            case MAINTAINER -> Role.MAINTAINER;
            default -> throw new InvalidInputException("a role is required (reader, contributor or maintainer)");
        };
    }

    static dev.merit.proto.v1.Principal principal(Principal p, boolean hasKey) {
        return dev.merit.proto.v1.Principal.newBuilder().setName(p.name()).setRole(role(p.role())).setHasKey(hasKey).build();
    }

    static VersionEvent event(Versions.NewVersion v) {
        return VersionEvent.newBuilder().setBranch(v.branch()).setCommit(v.commit().name())
                .addAllParents(v.parents().stream().map(ObjectId::name).toList()).addAllProposals(v.proposals())
                .setStrategy(v.strategy()).setTimeUnixMs(v.time().toEpochMilli()).setNumber(v.number()).build();
    }

    public static dev.merit.proto.v1.ObjectId id(ObjectId id) {
        return dev.merit.proto.v1.ObjectId.newBuilder().setSha256(com.google.protobuf.ByteString.copyFrom(id.toRaw())).build();
    }

    public static ObjectId id(dev.merit.proto.v1.ObjectId id) {
        if (id.getSha256().size() != ObjectId.LENGTH) {
            throw new InvalidInputException("object id has " + id.getSha256().size() + " bytes, expected " + ObjectId.LENGTH);
        }
        return ObjectId.fromRaw(id.getSha256().toByteArray());
    }
}
