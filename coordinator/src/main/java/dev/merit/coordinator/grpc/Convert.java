package dev.merit.coordinator.grpc;

import dev.merit.coordinator.VersionService;
import dev.merit.coordinator.Versions;
import dev.merit.coordinator.auth.AdminService;
import dev.merit.coordinator.auth.KeyRegistry;
import dev.merit.coordinator.auth.TokenStore;
import dev.merit.coordinator.auth.Role;
import dev.merit.coordinator.proposals.ProposalRecord;
import dev.merit.coordinator.validate.CheckResult;
import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.Branch;
import dev.merit.proto.v1.Check;
import dev.merit.proto.v1.KeyStatus;
import dev.merit.proto.v1.LogEntry;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.SigningKey;
import dev.merit.proto.v1.VersionEvent;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import java.time.Instant;
import java.util.Optional;

/** The coordinator's own proto <-> domain conversions; those the client shares are in {@link dev.merit.wire.WireConvert}. */
public final class Convert {

    private Convert() {}

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
        r.signingKey().ifPresent(b::setSigningKey);
        r.signature().ifPresent(h -> b.setSignature(com.google.protobuf.ByteString.copyFrom(java.util.HexFormat.of().parseHex(h))));
        return b.build();
    }

    static dev.merit.proto.v1.TokenInfo token(TokenStore.TokenInfo t) {
        return dev.merit.proto.v1.TokenInfo.newBuilder().setId(t.id()).setName(t.name()).setRole(role(t.role()))
                .setCreatedUnixMs(t.created().toEpochMilli()).setExpiresUnixMs(t.expires().map(Instant::toEpochMilli).orElse(0L))
                .setRevokedUnixMs(t.revoked().map(Instant::toEpochMilli).orElse(0L)).setRevokedBy(t.revokedBy().orElse("")).build();
    }

    static SigningKey key(KeyRegistry.KeyInfo k) {
        return SigningKey.newBuilder().setContributor(k.contributor()).setFingerprint(k.fingerprint())
                .setPublicKey(com.google.protobuf.ByteString.copyFrom(k.publicKey()))
                .setStatus(switch (k.status()) {
                    case CURRENT -> KeyStatus.KEY_STATUS_CURRENT;
                    case SUPERSEDED -> KeyStatus.KEY_STATUS_SUPERSEDED;
                    case REVOKED -> KeyStatus.KEY_STATUS_REVOKED;
                })
                .setRegisteredUnixMs(k.registered().map(Instant::toEpochMilli).orElse(0L))
                .setSupersededUnixMs(k.supersededAt().map(Instant::toEpochMilli).orElse(0L)).setSupersededBy(k.supersededBy().orElse(""))
                .setRevokedUnixMs(k.revokedAt().map(Instant::toEpochMilli).orElse(0L)).setRevokedBy(k.revokedBy().orElse("")).build();
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

    static dev.merit.proto.v1.Principal principal(AdminService.Identity i) {
        return dev.merit.proto.v1.Principal.newBuilder().setName(i.principal().name()).setRole(role(i.principal().role()))
                .setHasKey(i.hasKey()).build();
    }

    static Branch branch(VersionService.BranchHead b) {
        return Branch.newBuilder().setName(b.name()).setHead(b.head().name()).setNumber(b.number()).build();
    }

    static LogEntry logEntry(ObjectId id, Commit c) {
        return LogEntry.newBuilder().setCommit(id.name()).addAllParents(c.parents().stream().map(ObjectId::name).toList())
                .setAuthor(c.author()).setMessage(c.message()).setTimeUnixMs(c.time().toEpochMilli())
                .setProvenanceJson(c.provenance().toString()).build();
    }

    static VersionEvent event(Versions.NewVersion v) {
        return VersionEvent.newBuilder().setBranch(v.branch()).setCommit(v.commit().name())
                .addAllParents(v.parents().stream().map(ObjectId::name).toList()).addAllProposals(v.proposals())
                .setStrategy(v.strategy()).setTimeUnixMs(v.time().toEpochMilli()).setNumber(v.number()).build();
    }
}
