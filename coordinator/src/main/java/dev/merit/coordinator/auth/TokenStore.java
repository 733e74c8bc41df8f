package dev.merit.coordinator.auth;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.coordinator.Json;
import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * Bearer tokens, stored as SHA-256 hashes (records namespace {@value #NAMESPACE}) so a copy of the
 * coordinator's database does not hand out access. A token is shown once, when created. A token
 * may expire and may be revoked; both are checked on every call against the stored record (there
 * is no cache), so a revocation holds from the next call on, without a restart.
 */
public final class TokenStore {

    static final String NAMESPACE = "tokens";
    private static final String PREFIX = "mrt_";
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Logger LOG = Logger.getLogger(TokenStore.class.getName());
    /** Hex digits of the hash that name a token in listings and revocations. */
    public static final int ID_LENGTH = 8;

    /**
     * A stored token, without the token: who it is for, its role and its life. Records written
     * before expiry and revocation existed have neither field and never expire.
     *
     * @param id the first {@value #ID_LENGTH} hex digits of the token's hash (not a secret)
     */
    public record TokenInfo(String id, String name, Role role, Instant created, Optional<Instant> expires,
                            Optional<Instant> revoked, Optional<String> revokedBy) {

        /** Usable at {@code now}: not revoked and not expired. */
        public boolean activeAt(Instant now) {
            return revoked.isEmpty() && expires.map(now::isBefore).orElse(true);
        }
    }

    /** The stored layout (format 1; records without a format field are read as format 1). */
    record Stored(String name, String role, Instant created, Optional<Instant> expires,
                          Optional<Instant> revoked, Optional<String> revokedBy) {
        static final int FORMAT = 1;

        TokenInfo info(String hash) {
            return new TokenInfo(hash.substring(0, ID_LENGTH), name, Role.parse(role), created, expires, revoked, revokedBy);
        }
    }

    private final Repository repo;
    private final Clock clock;

    public TokenStore(Repository repo) {
        this(repo, Clock.systemUTC());
    }

    /** {@code clock} decides when a token has expired (tests pass a clock they move). */
    public TokenStore(Repository repo, Clock clock) {
        this.repo = repo;
        this.clock = clock;
    }

    /** Creates the first maintainer token if no token exists yet; returns it (to print once). It never expires. */
    public synchronized Optional<String> bootstrap(String adminName) {
        AtomicBoolean any = new AtomicBoolean();
        repo.scanRecords(NAMESPACE, "", (k, v) -> any.set(true));
        return any.get() ? Optional.empty() : Optional.of(create(adminName, Role.MAINTAINER));
    }

    /** A new random token for {@code name} with {@code role} that never expires. */
    public String create(String name, Role role) {
        return create(name, role, Optional.empty());
    }

    /** A new random token for {@code name} with {@code role}, valid until {@code expires} (if given, it must be in the future). */
    public synchronized String create(String name, Role role, Optional<Instant> expires) {
        if (name == null || !name.matches("[A-Za-z0-9._@-]{1,64}")) {
            throw new InvalidInputException("invalid token name '" + name + "': use 1-64 letters, digits, '.', '_', '@' or '-'");
        }
        Instant now = clock.instant();
        if (expires.isPresent() && !expires.get().isAfter(now)) {
            throw new InvalidInputException("token expiry " + expires.get() + " is not in the future (now " + now + ")");
        }
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String token = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
        put(hash(token), new Stored(name, role.id(), now, expires, Optional.empty(), Optional.empty()));
        return token;
    }

    /** The principal of a token, or UNAUTHENTICATED naming why (unknown, expired, revoked). */
    public Principal authenticate(String token) {
        if (token == null || token.isEmpty()) {
            throw new CoordinatorException(CoordinatorException.Kind.UNAUTHENTICATED,
                    "no token: send 'authorization: Bearer <token>' (merit reads MERIT_TOKEN or the remote's token)");
        }
        String hash = hash(token);
        byte[] rec = repo.getRecord(NAMESPACE, hash).orElseThrow(() -> new CoordinatorException(
                CoordinatorException.Kind.UNAUTHENTICATED, "unknown token '" + redact(token) + "'"));
        TokenInfo t = read(hash, rec);
        if (t.revoked().isPresent()) {
            throw new CoordinatorException(CoordinatorException.Kind.UNAUTHENTICATED, "token " + t.id() + " of '" + t.name()
                    + "' was revoked at " + t.revoked().get() + " by " + t.revokedBy().orElse("?"));
        }
        Instant now = clock.instant();
        if (t.expires().isPresent() && !now.isBefore(t.expires().get())) {
            throw new CoordinatorException(CoordinatorException.Kind.UNAUTHENTICATED, "token " + t.id() + " of '" + t.name()
                    + "' expired at " + t.expires().get() + " (ask a maintainer for a new one: merit token create)");
        }
        return new Principal(t.name(), t.role());
    }

    /** How {@code token} is listed (it must exist). */
    TokenInfo info(String token) {
        String hash = hash(token);
        return read(hash, repo.getRecord(NAMESPACE, hash).orElseThrow());
    }

    /** Every token, oldest first (never the tokens themselves). */
    public List<TokenInfo> list() {
        List<TokenInfo> out = new ArrayList<>();
        repo.scanRecords(NAMESPACE, "", (k, v) -> out.add(read(k, v)));
        out.sort(Comparator.comparing(TokenInfo::created).thenComparing(TokenInfo::id));
        return out;
    }

    /**
     * Revokes the tokens {@code idOrName} names: the token whose id (a prefix of its hash, at
     * least {@value #ID_LENGTH} hex digits) it is, else every unrevoked token of that name.
     * Refuses to revoke the last active maintainer token, which would lock maintainers out.
     * Returns the revoked tokens as they are now; revoking a revoked token changes nothing.
     */
    public synchronized List<TokenInfo> revoke(String idOrName, String by) {
        if (idOrName == null || idOrName.isBlank()) {
            throw new InvalidInputException("token to revoke: give a token id (merit token list) or a name");
        }
        Map<String, TokenInfo> all = new TreeMap<>();
        repo.scanRecords(NAMESPACE, "", (k, v) -> all.put(k, read(k, v)));
        String wanted = idOrName.trim();
        Map<String, TokenInfo> chosen = new TreeMap<>();
        if (wanted.matches("[0-9a-fA-F]{" + ID_LENGTH + ",64}")) {
            String prefix = wanted.toLowerCase(java.util.Locale.ROOT);
            all.forEach((h, t) -> {
                if (h.startsWith(prefix)) {
                    chosen.put(h, t);
                }
            });
            if (chosen.size() > 1) {
                throw new InvalidInputException("token id '" + wanted + "' is ambiguous (" + chosen.size() + " tokens); give more hex digits");
            }
        }
        if (chosen.isEmpty()) {
            all.forEach((h, t) -> {
                if (t.name().equals(wanted) && t.revoked().isEmpty()) {
                    chosen.put(h, t);
                }
            });
        }
        if (chosen.isEmpty()) {
            boolean revokedOnly = all.values().stream().anyMatch(t -> t.name().equals(wanted));
            throw new NotFoundException(revokedOnly ? "every token of '" + wanted + "' is already revoked"
                    : "no token with id or name '" + shortened(wanted) + "' (see merit token list)");
        }
        Instant now = clock.instant();
        boolean maintainerLeft = all.entrySet().stream().anyMatch(e -> !chosen.containsKey(e.getKey())
                && e.getValue().role() == Role.MAINTAINER && e.getValue().activeAt(now));
        boolean removesMaintainer = chosen.values().stream().anyMatch(t -> t.role() == Role.MAINTAINER && t.activeAt(now));
        if (removesMaintainer && !maintainerLeft) {
            throw new CoordinatorException(CoordinatorException.Kind.FAILED_PRECONDITION,
                    "revoking '" + shortened(wanted) + "' would leave no active maintainer token; create another maintainer token first");
        }
        List<TokenInfo> out = new ArrayList<>();
        try (Transaction tx = repo.newTransaction()) {
            for (Map.Entry<String, TokenInfo> e : chosen.entrySet()) {
                TokenInfo t = e.getValue();
                if (t.revoked().isPresent()) {
                    out.add(t);
                    continue;
                }
                Stored s = new Stored(t.name(), t.role().id(), t.created(), t.expires(), Optional.of(now), Optional.of(by));
                tx.putRecord(NAMESPACE, e.getKey(), Json.write(s, Stored.FORMAT));
                out.add(s.info(e.getKey()));
            }
            tx.commit();
        }
        // The audit trail: the records keep who revoked and when; the log says it as it happens.
        out.forEach(t -> LOG.info(() -> "token " + t.id() + " of '" + t.name() + "' (" + t.role().id() + ") revoked by " + by));
        return out;
    }

    private void put(String hash, Stored s) {
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord(NAMESPACE, hash, Json.write(s, Stored.FORMAT));
            tx.commit();
        }
    }

    private static TokenInfo read(String hash, byte[] rec) {
        return Json.read("token record " + hash.substring(0, ID_LENGTH), rec, Stored.class, Stored.FORMAT, Stored.FORMAT).info(hash);
    }

    private static String shortened(String s) {
        return s.length() > 80 ? s.substring(0, 80) + "..." : s;
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
