package dev.merit.coordinator.validate;

import dev.merit.wire.Ed25519;
import dev.merit.wire.ProposalSpec;
import java.util.Optional;
import java.util.function.Function;

/** The digest is signed by the key the contributor registered. */
public final class SignatureCheck implements Validator {

    private final Function<String, Optional<byte[]>> registeredKey;

    /** {@code registeredKey} maps a contributor to their Ed25519 public key (X.509). */
    public SignatureCheck(Function<String, Optional<byte[]>> registeredKey) {
        this.registeredKey = registeredKey;
    }

    @Override
    public CheckResult check(ProposalSpec spec) throws Rejection {
        byte[] key = registeredKey.apply(spec.contributor()).orElseThrow(() -> new Rejection("signature",
                "no signing key registered for '" + spec.contributor() + "' (run merit key register)"));
        if (!Ed25519.verify(key, spec.digest(), spec.signature())) {
            throw new Rejection("signature", "the signature does not verify against the registered key "
                    + Ed25519.fingerprint(key) + " of '" + spec.contributor() + "'");
        }
        return CheckResult.pass("signature", "Ed25519, key " + Ed25519.fingerprint(key));
    }
}
