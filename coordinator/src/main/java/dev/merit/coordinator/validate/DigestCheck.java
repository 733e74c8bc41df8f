package dev.merit.coordinator.validate;

import dev.merit.wire.ProposalSpec;
import java.security.MessageDigest;

/** The payload that arrived hashes to the digest the contributor signed. */
public final class DigestCheck implements PayloadValidator {

    @Override
    public CheckResult check(ProposalSpec spec, Ingest.Summary sum, Payload payload) throws Rejection {
        if (!MessageDigest.isEqual(sum.digest(), spec.digest())) {
            throw new Rejection("digest", "the payload hashes to " + java.util.HexFormat.of().formatHex(sum.digest())
                    + ", the header declares " + spec.digestHex());
        }
        return CheckResult.pass("digest", "payload matches " + spec.digestHex().substring(0, 12));
    }
}
