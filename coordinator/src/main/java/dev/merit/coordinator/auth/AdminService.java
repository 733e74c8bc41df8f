package dev.merit.coordinator.auth;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.error.InvalidInputException;
import dev.merit.store.Repository;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/** Identity and administration as a service, whatever the transport: who a caller is, tokens, signing keys, backups. Each call checks the caller's role. */
public final class AdminService {

    /** A principal and whether a signing key is registered for them. */
    public record Identity(Principal principal, boolean hasKey) {}

    /** A new token (shown once) and whom it identifies. */
    public record CreatedToken(String token, Identity identity) {}

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

    /** A token for {@code name} with {@code role} (maintainers). */
    public CreatedToken createToken(Principal who, String name, Role role) {
        who.require(Role.MAINTAINER, "creating tokens");
        String token = tokens.create(name, role);
        return new CreatedToken(token, new Identity(new Principal(name, role), keys.find(name).isPresent()));
    }

    /** Registers the caller's Ed25519 public key (X.509); returns its fingerprint. */
    public String registerKey(Principal who, byte[] publicKey) {
        who.require(Role.CONTRIBUTOR, "registering a signing key");
        return keys.register(who.name(), publicKey);
    }
}
