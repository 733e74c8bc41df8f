package dev.merit.coordinator.auth;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import dev.merit.wire.Ed25519;
import java.util.Arrays;
import java.util.Optional;

/**
 * Contributors' Ed25519 public keys (records namespace {@value #NAMESPACE}). A contributor
 * registers one key; registering a different one later is refused, so a leaked token alone
 * cannot swap the key that proposals are checked against.
 */
public final class KeyRegistry {

    static final String NAMESPACE = "keys";

    private final Repository repo;

    public KeyRegistry(Repository repo) {
        this.repo = repo;
    }

    /** Registers {@code publicKey} (X.509) for {@code contributor}; returns its fingerprint. */
    public synchronized String register(String contributor, byte[] publicKey) {
        Ed25519.publicKey(publicKey); // refuses anything but an Ed25519 key
        Optional<byte[]> existing = find(contributor);
        if (existing.isPresent()) {
            if (Arrays.equals(existing.get(), publicKey)) {
                return Ed25519.fingerprint(publicKey);
            }
            throw new CoordinatorException(CoordinatorException.Kind.ALREADY_EXISTS, "'" + contributor
                    + "' already has key " + Ed25519.fingerprint(existing.get()) + "; it cannot be replaced with "
                    + Ed25519.fingerprint(publicKey));
        }
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord(NAMESPACE, contributor, publicKey);
            tx.commit();
        }
        return Ed25519.fingerprint(publicKey);
    }

    public Optional<byte[]> find(String contributor) {
        return repo.getRecord(NAMESPACE, contributor);
    }
}
