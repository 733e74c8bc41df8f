package dev.merit.coordinator.validate;

import dev.merit.wire.Ed25519;
import dev.merit.wire.ProposalSpec;
import java.util.Optional;
import java.util.function.Function;

/**
 * The digest is signed by the contributor's current key. A signature by one of their former
 * (superseded or revoked) keys is refused by {@link FormerKeys} before it becomes a rejection.
 */
public final class SignatureCheck implements Validator {

    /** The prefix of a passing result's detail, followed by the key's fingerprint. */
    private static final String PASSED = "Ed25519, key ";

    /** Looks at a contributor's former keys when their current key does not verify a signature. */
    @FunctionalInterface
    public interface FormerKeys {
        /** Throws (PERMISSION_DENIED) if a former key of {@code contributor} made {@code signature}. */
        void refuseIfSignedByFormerKey(String contributor, byte[] digest, byte[] signature);

        FormerKeys NONE = (c, d, s) -> {};
    }

    private final Function<String, Optional<byte[]>> registeredKey;
    private final FormerKeys formerKeys;

    /** {@code registeredKey} maps a contributor to their Ed25519 public key (X.509). */
    public SignatureCheck(Function<String, Optional<byte[]>> registeredKey) {
        this(registeredKey, FormerKeys.NONE);
    }

    public SignatureCheck(Function<String, Optional<byte[]>> registeredKey, FormerKeys formerKeys) {
        this.registeredKey = registeredKey;
        this.formerKeys = formerKeys;
    }

    @Override
    public CheckResult check(ProposalSpec spec) throws Rejection {
        Optional<byte[]> current = registeredKey.apply(spec.contributor());
        if (current.isEmpty() || !Ed25519.verify(current.get(), spec.digest(), spec.signature())) {
            formerKeys.refuseIfSignedByFormerKey(spec.contributor(), spec.digest(), spec.signature());
        }
        byte[] key = current.orElseThrow(() -> new Rejection("signature",
                "no signing key registered for '" + spec.contributor() + "' (run merit key register)"));
        if (!Ed25519.verify(key, spec.digest(), spec.signature())) {
            throw new Rejection("signature", "the signature does not verify against the registered key "
                    + Ed25519.fingerprint(key) + " of '" + spec.contributor() + "'");
        }
        return CheckResult.pass("signature", PASSED + Ed25519.fingerprint(key));
    }

    /** The fingerprint of the key a passing signature check found, if {@code c} is one. */
    public static Optional<String> signingKey(CheckResult c) {
        return c.name().equals("signature") && c.passed() && c.detail().startsWith(PASSED)
                ? Optional.of(c.detail().substring(PASSED.length())) : Optional.empty();
    }
}
