package dev.merit.remote;

import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.Branch;
import dev.merit.proto.v1.Principal;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.proto.v1.Role;
import dev.merit.proto.v1.SigningKey;
import dev.merit.proto.v1.TokenInfo;
import dev.merit.proto.v1.VersionEvent;
import dev.merit.store.ObjectId;
import java.time.Instant;
import java.util.Optional;

/** The client's proto -> domain conversions, so no caller of {@link RemoteClient} sees a protobuf message. */
final class ClientConvert {

    private ClientConvert() {}

    static RemoteBranch branch(Branch b) {
        return new RemoteBranch(b.getName(), ObjectId.fromString(b.getHead()), b.getNumber());
    }

    static RemoteProposal proposal(Proposal p) {
        return new RemoteProposal(p.getId(), p.getBranch(), p.getContributor(), p.getBaseVersion(), status(p.getStatus()),
                p.getReasonsList(), p.getChecksList().stream().map(c -> new RemoteProposal.Check(c.getName(), c.getPassed(), c.getDetail())).toList(),
                p.getDigest(), p.getStaleness(), p.getStalenessWeight(), p.getExampleCount(), p.getHasFisher(), p.getEntries(),
                p.getDensity(), p.getNorm(), p.getPayloadBytes(), p.getMessage(), Instant.ofEpochMilli(p.getCreatedUnixMs()),
                nonEmpty(p.getMergedIn()), nonEmpty(p.getReview()), nonEmpty(p.getSigningKey()),
                p.getSignature().isEmpty() ? Optional.empty() : Optional.of(java.util.HexFormat.of().formatHex(p.getSignature().toByteArray())));
    }

    static RemoteToken token(TokenInfo t) {
        return new RemoteToken(t.getId(), t.getName(), identity(Principal.newBuilder().setName(t.getName()).setRole(t.getRole()).build()).role(),
                Instant.ofEpochMilli(t.getCreatedUnixMs()), instant(t.getExpiresUnixMs()), instant(t.getRevokedUnixMs()),
                nonEmpty(t.getRevokedBy()));
    }

    static RemoteKey key(SigningKey k) {
        RemoteKey.Status st = switch (k.getStatus()) {
            case KEY_STATUS_CURRENT -> RemoteKey.Status.CURRENT;
            case KEY_STATUS_SUPERSEDED -> RemoteKey.Status.SUPERSEDED;
            case KEY_STATUS_REVOKED -> RemoteKey.Status.REVOKED;
            default -> throw new InvalidInputException("key " + k.getFingerprint() + ": status " + k.getStatus() + " is not one this client knows");
        };
        return new RemoteKey(k.getContributor(), k.getFingerprint(), k.getPublicKey().toByteArray(), st, instant(k.getRegisteredUnixMs()),
                instant(k.getSupersededUnixMs()), nonEmpty(k.getSupersededBy()), instant(k.getRevokedUnixMs()), nonEmpty(k.getRevokedBy()));
    }

    private static Optional<Instant> instant(long unixMs) {
        return unixMs == 0 ? Optional.empty() : Optional.of(Instant.ofEpochMilli(unixMs));
    }

    static RemoteProposal.Status status(ProposalStatus s) {
        return switch (s) {
            case ACCEPTED -> RemoteProposal.Status.ACCEPTED;
            case REJECTED -> RemoteProposal.Status.REJECTED;
            case MERGED -> RemoteProposal.Status.MERGED;
            default -> throw new InvalidInputException("proposal status " + s + " is not one this client knows");
        };
    }

    static ProposalStatus status(Optional<RemoteProposal.Status> s) {
        return s.map(x -> switch (x) {
            case ACCEPTED -> ProposalStatus.ACCEPTED;
            case REJECTED -> ProposalStatus.REJECTED;
            case MERGED -> ProposalStatus.MERGED;
        }).orElse(ProposalStatus.PROPOSAL_STATUS_UNSPECIFIED);
    }

    static RemoteVersion version(VersionEvent v) {
        return new RemoteVersion(v.getBranch(), v.getCommit(), v.getParentsList(), v.getProposalsList(), v.getStrategy(),
                Instant.ofEpochMilli(v.getTimeUnixMs()), v.getNumber());
    }

    static RemoteIdentity identity(Principal p) {
        RemoteIdentity.Role r = switch (p.getRole()) {
            case READER -> RemoteIdentity.Role.READER;
            case CONTRIBUTOR -> RemoteIdentity.Role.CONTRIBUTOR;
            case MAINTAINER -> RemoteIdentity.Role.MAINTAINER;
            default -> throw new InvalidInputException("principal '" + p.getName() + "': role " + p.getRole() + " is not one this client knows");
        };
        return new RemoteIdentity(p.getName(), r, p.getHasKey());
    }

    static Role role(RemoteIdentity.Role r) {
        return switch (r) {
            case READER -> Role.READER;
            case CONTRIBUTOR -> Role.CONTRIBUTOR;
            case MAINTAINER -> Role.MAINTAINER;
        };
    }

    private static Optional<String> nonEmpty(String s) {
        return s.isEmpty() ? Optional.empty() : Optional.of(s);
    }
}
