package dev.merit.coordinator.auth;

/** Identity as a service, whatever the transport: who a caller is, tokens, signing keys. Each call checks the caller's role. */
public final class AdminService {

    /** A principal and whether a signing key is registered for them. */
    public record Identity(Principal principal, boolean hasKey) {}

    /** A new token (shown once) and whom it identifies. */
    public record CreatedToken(String token, Identity identity) {}

    private final TokenStore tokens;
    private final KeyRegistry keys;

    public AdminService(TokenStore tokens, KeyRegistry keys) {
        this.tokens = tokens;
        this.keys = keys;
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
