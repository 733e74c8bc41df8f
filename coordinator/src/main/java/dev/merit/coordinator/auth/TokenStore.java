package dev.merit.coordinator.auth;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Json;
import dev.merit.error.InvalidInputException;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Bearer tokens, stored as SHA-256 hashes (records namespace {@value #NAMESPACE}) so a copy of the
 * coordinator's database does not hand out access. A token is shown once, when created.
 */
public final class TokenStore {

    static final String NAMESPACE = "tokens";
    private static final String PREFIX = "mrt_";
    private static final SecureRandom RANDOM = new SecureRandom();

    private final Repository repo;

    public TokenStore(Repository repo) {
        this.repo = repo;
    }

    /** Creates the first maintainer token if no token exists yet; returns it (to print once). */
    public synchronized Optional<String> bootstrap(String adminName) {
        AtomicBoolean any = new AtomicBoolean();
        repo.scanRecords(NAMESPACE, "", (k, v) -> any.set(true));
        return any.get() ? Optional.empty() : Optional.of(create(adminName, Role.MAINTAINER));
    }

    /** A new random token for {@code name} with {@code role}. */
    public synchronized String create(String name, Role role) {
        if (name == null || !name.matches("[A-Za-z0-9._@-]{1,64}")) {
            throw new InvalidInputException("invalid token name '" + name + "': use 1-64 letters, digits, '.', '_', '@' or '-'");
        }
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String token = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        ObjectNode rec = Json.object().put("name", name).put("role", role.id()).put("created", Instant.now().toString());
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord(NAMESPACE, hash(token), Json.bytes(rec));
            tx.commit();
        }
        return token;
    }

    /** The principal of a token, or UNAUTHENTICATED naming why. */
    public Principal authenticate(String token) {
        if (token == null || token.isEmpty()) {
            throw new CoordinatorException(CoordinatorException.Kind.UNAUTHENTICATED,
                    "no token: send 'authorization: Bearer <token>' (merit reads MERIT_TOKEN or the remote's token)");
        }
        byte[] rec = repo.getRecord(NAMESPACE, hash(token)).orElseThrow(() -> new CoordinatorException(
                CoordinatorException.Kind.UNAUTHENTICATED, "unknown token '" + redact(token) + "'"));
        ObjectNode n = Json.parse("token record", rec);
        return new Principal(n.path("name").asText(), Role.parse(n.path("role").asText()));
    }

    private static String redact(String token) {
        return token.length() <= 8 ? "..." : token.substring(0, 8) + "...";
    }

    static String hash(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
