package dev.merit.coordinator.auth;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.error.InvalidInputException;
import dev.merit.store.Repository;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** Identity and administration as a service, whatever the transport: who a caller is, tokens, signing keys, backups. Each call checks the caller's role. */
public final class AdminService {

    /** A principal and whether a signing key is registered for them. */
    public record Identity(Principal principal, boolean hasKey) {}

    /** A new token (shown once), whom it identifies, and how it is listed. */
    public record CreatedToken(String token, Identity identity, TokenStore.TokenInfo info) {}

    private final TokenStore tokens;
    private final KeyRegistry keys;
    private final Optional<Repository> repo;

    public AdminService(TokenStore tokens, KeyRegistry keys) {
        this(tokens, keys, Optional.empty());
    }

    /** {@code repo}: the coordinator's store, for backups. */
    public AdminService(TokenStore tokens, KeyRegistry keys, Optional<Repository> repo) {
        this.tokens = tokens;
        this.keys = keys;
        this.repo = repo;
    }

    /** Where a backup went and its size on disk. */
    public record Backup(Path directory, long bytes) {}

    /**
     * Copies the running coordinator's store (a consistent checkpoint) into {@code directory}, an
     * absolute path on the coordinator's machine that must not exist or be empty (maintainers).
     */
    public Backup backup(Principal who, String directory) {
        who.require(Role.MAINTAINER, "backing up the coordinator");
        Repository r = repo.orElseThrow(() -> new CoordinatorException(CoordinatorException.Kind.FAILED_PRECONDITION,
                "this coordinator has no store to back up"));
        Path target;
        try {
            target = Path.of(directory);
        } catch (InvalidPathException e) {
            throw new InvalidInputException("backup directory '" + shortened(directory) + "': " + e.getReason());
        }
        if (directory.isEmpty() || !target.isAbsolute()) {
            throw new InvalidInputException("backup directory '" + shortened(directory)
                    + "' must be an absolute path on the coordinator's machine");
        }
        Path done = r.backup(target);
        try (Stream<Path> files = Files.walk(done)) {
            long bytes = files.filter(Files::isRegularFile).mapToLong(f -> {
                try {
                    return Files.size(f);
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
            return new Backup(done, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException("backup in " + done + ": " + e.getMessage(), e);
        }
    }

    private static String shortened(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    public Identity whoAmI(Principal who) {
        return new Identity(who, keys.find(who.name()).isPresent());
    }

    /** A token for {@code name} with {@code role} that never expires (maintainers). */
    public CreatedToken createToken(Principal who, String name, Role role) {
        return createToken(who, name, role, Optional.empty());
    }

    /** A token for {@code name} with {@code role}, valid until {@code expires} if given (maintainers). */
    public CreatedToken createToken(Principal who, String name, Role role, Optional<Instant> expires) {
        who.require(Role.MAINTAINER, "creating tokens");
        String token = tokens.create(name, role, expires);
        return new CreatedToken(token, new Identity(new Principal(name, role), keys.find(name).isPresent()), tokens.info(token));
    }

    /** Every token, without the tokens themselves (maintainers). */
    public List<TokenStore.TokenInfo> listTokens(Principal who) {
        who.require(Role.MAINTAINER, "listing tokens");
        return tokens.list();
    }

    /** Revokes the token with id {@code idOrName}, else every active token of that name (maintainers). */
    public List<TokenStore.TokenInfo> revokeToken(Principal who, String idOrName) {
        who.require(Role.MAINTAINER, "revoking tokens");
        return tokens.revoke(idOrName, who.name());
    }

    /** Registers the caller's Ed25519 public key (X.509); returns its fingerprint. */
    public String registerKey(Principal who, byte[] publicKey) {
        who.require(Role.CONTRIBUTOR, "registering a signing key");
        return keys.register(who.name(), publicKey);
    }

    /** Replaces the caller's current key with {@code publicKey}; {@code proof} is the current key's signature of the rotation. */
    public KeyRegistry.Rotation rotateKey(Principal who, byte[] publicKey, byte[] proof) {
        who.require(Role.CONTRIBUTOR, "rotating a signing key");
        return keys.rotate(who.name(), publicKey, proof);
    }

    /** Revokes a key (its owner, or a maintainer). */
    public KeyRegistry.KeyInfo revokeKey(Principal who, String fingerprint, byte[] proof) {
        return keys.revoke(who, fingerprint, proof);
    }

    /** {@code contributor}'s keys (the caller's if empty), former ones included; public keys are not secret. */
    public List<KeyRegistry.KeyInfo> listKeys(Principal who, String contributor) {
        return keys.keys(contributor == null || contributor.isEmpty() ? who.name() : contributor);
    }
}
