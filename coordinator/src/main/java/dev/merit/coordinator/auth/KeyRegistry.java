package dev.merit.coordinator.auth;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Json;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import dev.merit.wire.Ed25519;
import dev.merit.wire.KeyProofs;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.logging.Logger;

/**
 * Contributors' Ed25519 public keys. The key proposals are checked against is the contributor's
 * current key (records namespace {@value #NAMESPACE}, contributor -> X.509 bytes, as it always
 * was); every key a contributor ever had is also kept in {@value #HISTORY} with when it was
 * registered, superseded or revoked, so a proposal signed before a rotation or revocation can
 * still be verified with the key that signed it.
 *
 * <p>A token alone never changes the key: the first key is registered with the token, a rotation
 * must be signed by the current key ({@link KeyProofs#rotation}), and an owner revoking their
 * current key signs the revocation with it. Only once a key is revoked (by its owner, or by a
 * maintainer when the key is lost or stolen) can the contributor register a fresh one with the
 * token.
 */
public final class KeyRegistry {

    static final String NAMESPACE = "keys";
    static final String HISTORY = "key-history";
    private static final Logger LOG = Logger.getLogger(KeyRegistry.class.getName());

    /** Where a key stands. */
    public enum Status {
        CURRENT, SUPERSEDED, REVOKED;

        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * One of a contributor's keys and its life. {@code registered} is empty for a key registered
     * before the history was kept.
     */
    public record KeyInfo(String contributor, String fingerprint, byte[] publicKey, Optional<Instant> registered,
                          Optional<Instant> supersededAt, Optional<String> supersededBy, Optional<Instant> revokedAt,
                          Optional<String> revokedBy) {

        public Status status() {
            return revokedAt.isPresent() ? Status.REVOKED : supersededAt.isPresent() ? Status.SUPERSEDED : Status.CURRENT;
        }

        /** "current", "superseded at T by key F", "revoked at T by NAME". */
        public String describe() {
            return switch (status()) {
                case CURRENT -> "current";
                case SUPERSEDED -> "superseded at " + supersededAt.get() + " by key " + supersededBy.orElse("?");
                case REVOKED -> "revoked at " + revokedAt.get() + " by " + revokedBy.orElse("?");
            };
        }
    }

    /** A rotation: the key it superseded (empty if unknown) and the current key. */
    public record Rotation(String previous, String current) {}

    /** The stored layout of a history record (format 1). */
    record Stored(String contributor, String publicKey, Optional<Instant> registered, Optional<Instant> supersededAt,
                  Optional<String> supersededBy, Optional<Instant> revokedAt, Optional<String> revokedBy) {
        static final int FORMAT = 1;

        KeyInfo info() {
            byte[] pub = HexFormat.of().parseHex(publicKey);
            return new KeyInfo(contributor, Ed25519.fingerprint(pub), pub, registered, supersededAt, supersededBy, revokedAt, revokedBy);
        }

        static Stored of(KeyInfo k) {
            return new Stored(k.contributor(), HexFormat.of().formatHex(k.publicKey()), k.registered(), k.supersededAt(),
                    k.supersededBy(), k.revokedAt(), k.revokedBy());
        }
    }

    private final Repository repo;
    private final Clock clock;

    public KeyRegistry(Repository repo) {
        this(repo, Clock.systemUTC());
    }

    public KeyRegistry(Repository repo, Clock clock) {
        this.repo = repo;
        this.clock = clock;
    }

    /**
     * Registers {@code publicKey} (X.509) as {@code contributor}'s first key, or as a fresh key
     * after their key was revoked; returns its fingerprint. Registering the current key again
     * changes nothing; replacing a current key needs {@link #rotate}.
     */
    public synchronized String register(String contributor, byte[] publicKey) {
        Ed25519.publicKey(publicKey); // refuses anything but an Ed25519 key
        String fp = Ed25519.fingerprint(publicKey);
        Optional<byte[]> existing = find(contributor);
        if (existing.isPresent()) {
            if (Arrays.equals(existing.get(), publicKey)) {
                return fp;
            }
            throw new CoordinatorException(CoordinatorException.Kind.ALREADY_EXISTS, "'" + contributor
                    + "' already has key " + Ed25519.fingerprint(existing.get()) + "; it cannot be replaced with "
                    + fp + " (rotate it with merit key rotate, signed by the current key)");
        }
        refuseReuse(contributor, fp);
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord(NAMESPACE, contributor, publicKey);
            putHistory(tx, new KeyInfo(contributor, fp, publicKey, Optional.of(clock.instant()), Optional.empty(),
                    Optional.empty(), Optional.empty(), Optional.empty()));
            tx.commit();
        }
        return fp;
    }

    /**
     * Makes {@code newPublicKey} {@code contributor}'s current key; {@code proof} is the current
     * key's signature of {@link KeyProofs#rotation}. The old key stays in the history, superseded
     * from now on. Returns both fingerprints; repeating a rotation that happened changes nothing.
     */
    public synchronized Rotation rotate(String contributor, byte[] newPublicKey, byte[] proof) {
        Ed25519.publicKey(newPublicKey);
        String newFp = Ed25519.fingerprint(newPublicKey);
        byte[] old = find(contributor).orElseThrow(() -> new CoordinatorException(CoordinatorException.Kind.FAILED_PRECONDITION,
                "'" + contributor + "' has no current key to rotate; register one with merit key register"));
        String oldFp = Ed25519.fingerprint(old);
        if (Arrays.equals(old, newPublicKey)) {
            return new Rotation(keys(contributor).stream().filter(k -> newFp.equals(k.supersededBy().orElse(null)))
                    .map(KeyInfo::fingerprint).findFirst().orElse(""), newFp);
        }
        if (!Ed25519.verify(old, KeyProofs.rotation(contributor, oldFp, newPublicKey), proof)) {
            throw new CoordinatorException(CoordinatorException.Kind.PERMISSION_DENIED, "the rotation of '" + contributor
                    + "' to key " + newFp + " is not signed by the current key " + oldFp);
        }
        refuseReuse(contributor, newFp);
        Instant now = clock.instant();
        KeyInfo before = history(contributor, oldFp).orElseGet(() -> legacy(contributor, old));
        try (Transaction tx = repo.newTransaction()) {
            putHistory(tx, new KeyInfo(contributor, oldFp, old, before.registered(), Optional.of(now), Optional.of(newFp),
                    before.revokedAt(), before.revokedBy()));
            putHistory(tx, new KeyInfo(contributor, newFp, newPublicKey, Optional.of(now), Optional.empty(), Optional.empty(),
                    Optional.empty(), Optional.empty()));
            tx.putRecord(NAMESPACE, contributor, newPublicKey);
            tx.commit();
        }
        LOG.info(() -> "signing key of '" + contributor + "' rotated from " + oldFp + " to " + newFp);
        return new Rotation(oldFp, newFp);
    }

    /**
     * Revokes the key {@code fingerprint} (maintainers, or its owner; an owner revoking their
     * current key signs {@link KeyProofs#revocation} with it). Proposals signed with it are refused
     * from now on; those stored before stay verifiable. Returns the key as it now stands.
     */
    public synchronized KeyInfo revoke(Principal who, String fingerprint, byte[] proof) {
        if (fingerprint == null || !fingerprint.matches("[0-9a-fA-F]{4,16}")) {
            throw new InvalidInputException("key fingerprint '" + shortened(fingerprint) + "': expected up to 16 hex digits (merit key show)");
        }
        String fp = fingerprint.toLowerCase(java.util.Locale.ROOT);
        List<KeyInfo> matches = all().stream().filter(k -> k.fingerprint().startsWith(fp)).toList();
        if (matches.isEmpty()) {
            throw new NotFoundException("no signing key with fingerprint '" + fp + "'");
        }
        if (matches.size() > 1) {
            throw new InvalidInputException("key fingerprint '" + fp + "' is ambiguous (" + matches.size() + " keys); give all 16 hex digits");
        }
        KeyInfo k = matches.get(0);
        boolean owner = who.name().equals(k.contributor());
        if (!owner) {
            who.require(Role.MAINTAINER, "revoking the key " + k.fingerprint() + " of '" + k.contributor() + "'");
        }
        if (k.status() == Status.REVOKED) {
            return k;
        }
        if (owner && !who.role().atLeast(Role.MAINTAINER) && k.status() == Status.CURRENT
                && !Ed25519.verify(k.publicKey(), KeyProofs.revocation(k.contributor(), k.fingerprint()), proof)) {
            throw new CoordinatorException(CoordinatorException.Kind.PERMISSION_DENIED, "revoking your current key "
                    + k.fingerprint() + " must be signed by it (merit key revoke does that); if it is lost, ask a maintainer");
        }
        KeyInfo revoked = new KeyInfo(k.contributor(), k.fingerprint(), k.publicKey(), k.registered(), k.supersededAt(),
                k.supersededBy(), Optional.of(clock.instant()), Optional.of(who.name()));
        try (Transaction tx = repo.newTransaction()) {
            putHistory(tx, revoked);
            if (k.status() == Status.CURRENT) {
                tx.deleteRecord(NAMESPACE, k.contributor());
            }
            tx.commit();
        }
        LOG.info(() -> "signing key " + k.fingerprint() + " of '" + k.contributor() + "' revoked by " + who.name());
        return revoked;
    }

    /** The current key of {@code contributor}. */
    public Optional<byte[]> find(String contributor) {
        return repo.getRecord(NAMESPACE, contributor);
    }

    /** Every key {@code contributor} had, the oldest first, the current one last. */
    public List<KeyInfo> keys(String contributor) {
        List<KeyInfo> out = new ArrayList<>();
        repo.scanRecords(HISTORY, contributor + "/", (k, v) -> out.add(read(k, v)));
        find(contributor).ifPresent(cur -> {
            if (out.stream().noneMatch(k -> Arrays.equals(k.publicKey(), cur))) {
                out.add(legacy(contributor, cur));
            }
        });
        out.sort(Comparator.comparing((KeyInfo k) -> k.status() == Status.CURRENT)
                .thenComparing(k -> k.registered().orElse(Instant.EPOCH)));
        return out;
    }

    /** {@code contributor}'s key {@code fingerprint}, whatever its status. */
    public Optional<KeyInfo> key(String contributor, String fingerprint) {
        return keys(contributor).stream().filter(k -> k.fingerprint().equals(fingerprint)).findFirst();
    }

    /**
     * Called when a proposal's signature does not verify against {@code contributor}'s current
     * key: if one of their former keys made it, refuses with PERMISSION_DENIED naming that key.
     */
    public void refuseIfSignedByFormerKey(String contributor, byte[] digest, byte[] signature) {
        for (KeyInfo k : keys(contributor)) {
            if (k.status() != Status.CURRENT && Ed25519.verify(k.publicKey(), digest, signature)) {
                throw new CoordinatorException(CoordinatorException.Kind.PERMISSION_DENIED, "the proposal is signed with key "
                        + k.fingerprint() + " of '" + contributor + "', " + k.describe()
                        + (k.status() == Status.SUPERSEDED ? "; sign with the current key (merit key show)" : ""));
            }
        }
    }

    /**
     * Whether {@code signature} over {@code digest} verifies with {@code contributor}'s key
     * {@code fingerprint} (current, superseded or revoked: a proposal accepted before a rotation
     * or revocation keeps the key that signed it).
     */
    public boolean verify(String contributor, String fingerprint, byte[] digest, byte[] signature) {
        return key(contributor, fingerprint).map(k -> Ed25519.verify(k.publicKey(), digest, signature)).orElse(false);
    }

    private List<KeyInfo> all() {
        List<KeyInfo> out = new ArrayList<>();
        repo.scanRecords(HISTORY, "", (k, v) -> out.add(read(k, v)));
        repo.scanRecords(NAMESPACE, "", (c, cur) -> {
            if (out.stream().noneMatch(k -> k.contributor().equals(c) && Arrays.equals(k.publicKey(), cur))) {
                out.add(legacy(c, cur));
            }
        });
        return out;
    }

    private void refuseReuse(String contributor, String fp) {
        Optional<KeyInfo> before = history(contributor, fp);
        if (before.isPresent()) {
            throw new CoordinatorException(CoordinatorException.Kind.ALREADY_EXISTS, "key " + fp + " of '" + contributor
                    + "' was " + before.get().describe() + "; a former key cannot come back (make a new one)");
        }
    }

    private Optional<KeyInfo> history(String contributor, String fp) {
        return repo.getRecord(HISTORY, contributor + "/" + fp).map(v -> read(contributor + "/" + fp, v));
    }

    /** A current key registered before the history was kept. */
    private static KeyInfo legacy(String contributor, byte[] publicKey) {
        return new KeyInfo(contributor, Ed25519.fingerprint(publicKey), publicKey, Optional.empty(), Optional.empty(),
                Optional.empty(), Optional.empty(), Optional.empty());
    }

    private static void putHistory(Transaction tx, KeyInfo k) {
        tx.putRecord(HISTORY, k.contributor() + "/" + k.fingerprint(), Json.write(Stored.of(k), Stored.FORMAT));
    }

    private static KeyInfo read(String key, byte[] v) {
        return Json.read("signing key record " + key, v, Stored.class, Stored.FORMAT, Stored.FORMAT).info();
    }

    private static String shortened(String s) {
        return s == null ? "" : s.length() > 40 ? s.substring(0, 40) + "..." : s;
    }
}
