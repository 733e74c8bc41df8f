package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.InvalidInputException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteIdentity;
import dev.merit.remote.RemoteToken;
import dev.merit.store.Repository;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "token", header = "Access tokens on a coordinator (maintainers): token create, list, revoke.",
        subcommands = {TokenCommand.Create.class, TokenCommand.ListTokens.class, TokenCommand.Revoke.class})
// Not a command of its own: picocli reports a missing subcommand as a usage error.
final class TokenCommand {

    /** What a new token lives for unless --expires says otherwise. */
    static final Duration DEFAULT_LIFETIME = Duration.ofDays(90);
    private static final Pattern DURATION = Pattern.compile("(\\d{1,6})([dhm])");

    private TokenCommand() {}

    /**
     * When a token made now should expire: {@code never}, a duration from now ({@code 30d},
     * {@code 12h}, {@code 45m}), a date ({@code 2027-01-01}, midnight UTC) or an ISO instant
     * ({@code 2027-01-01T00:00Z}, an offset too).
     */
    static Optional<Instant> expiry(String text, Clock clock) {
        String t = text.trim();
        if (t.equalsIgnoreCase("never")) {
            return Optional.empty();
        }
        Matcher m = DURATION.matcher(t.toLowerCase(Locale.ROOT));
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            if (n == 0) {
                throw new InvalidInputException("--expires: '" + text + "' is no time at all (use 30d, 12h, an ISO instant or never)");
            }
            Duration d = switch (m.group(2)) {
                case "d" -> Duration.ofDays(n);
                case "h" -> Duration.ofHours(n);
                default -> Duration.ofMinutes(n);
            };
            return Optional.of(clock.instant().plus(d));
        }
        Instant at;
        try {
            at = OffsetDateTime.parse(t).toInstant();
        } catch (DateTimeParseException e) {
            try {
                at = LocalDate.parse(t).atStartOfDay(ZoneOffset.UTC).toInstant();
            } catch (DateTimeParseException e2) {
                throw new InvalidInputException("--expires: '" + text + "' is not a duration (use 30d, 12h or an ISO instant"
                        + " such as 2027-01-01T00:00Z, or never)");
            }
        }
        if (!at.isAfter(clock.instant())) {
            throw new InvalidInputException("--expires: " + at + " is in the past");
        }
        return Optional.of(at);
    }

    static ObjectNode json(RemoteToken t, Instant now) {
        ObjectNode n = BaseCommand.JSON.createObjectNode().put("id", t.id()).put("name", t.name())
                .put("role", t.role().name().toLowerCase(Locale.ROOT)).put("created", t.created().toString())
                .put("state", t.state(now));
        t.expires().ifPresentOrElse(e -> n.put("expires", e.toString()), () -> n.putNull("expires"));
        t.revoked().ifPresent(r -> n.put("revoked", r.toString()));
        t.revokedBy().ifPresent(b -> n.put("revoked_by", b));
        return n;
    }

    private static RemoteIdentity.Role role(String role) {
        return switch (role.toLowerCase(Locale.ROOT)) {
            case "reader" -> RemoteIdentity.Role.READER;
            case "contributor" -> RemoteIdentity.Role.CONTRIBUTOR;
            case "maintainer" -> RemoteIdentity.Role.MAINTAINER;
            default -> throw new InvalidInputException("--role: unknown role '" + role + "' (reader, contributor, maintainer)");
        };
    }

    /** Connects to a remote name (looked up in the repository here) or a URL (no repository needed). */
    static RemoteClient connect(BaseCommand cmd, TokenOption auth, String remote) {
        if (RemoteSupport.looksLikeUrl(remote)) {
            return auth.connect(Optional.empty(), remote);
        }
        try (Repository repo = cmd.openRepository()) {
            return auth.connect(Optional.of(new LocalConfig(repo)), remote);
        }
    }

    @Command(name = "create", header = "Create a token and print it (it is shown only this once).")
    static final class Create extends BaseCommand {

        @Option(names = "--name", required = true, description = "Who the token is for (the contributor name).")
        String name;

        @Option(names = "--role", required = true, description = "reader, contributor or maintainer.")
        String role;

        @Option(names = "--expires", defaultValue = "90d", paramLabel = "WHEN",
                description = "When it stops working: a duration (30d, 12h, 45m), a date or ISO instant (2027-01-01T00:00Z),"
                        + " or never. Default: 90d.")
        String expires;

        @Option(names = "--remote", defaultValue = "origin", description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--json", description = "Print the token and its listing as JSON.")
        boolean json;

        @Mixin
        TokenOption auth;

        @Override
        int run() throws Exception {
            RemoteIdentity.Role r = role(role);
            Optional<Instant> until = expiry(expires, Clock.systemUTC());
            try (RemoteClient c = connect(this, auth, remote)) {
                RemoteClient.CreatedToken t = c.createToken(name, r, until);
                if (json) {
                    ObjectNode n = TokenCommand.json(t.info(), Instant.now());
                    n.put("token", t.token());
                    printJson(n);
                } else {
                    out().println(t.token());
                    err().println("token " + t.info().id() + " for " + name + " (" + r.name().toLowerCase(Locale.ROOT) + "), "
                            + t.info().expires().map(e -> "expires " + e).orElse("never expires") + "; it is shown only this once");
                }
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "list", header = "List the coordinator's tokens: id, name, role, created, expires, state (never the tokens).")
    static final class ListTokens extends BaseCommand {

        @Parameters(index = "0", arity = "0..1", paramLabel = "REMOTE", defaultValue = "origin",
                description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--json", description = "Print the tokens as a JSON array.")
        boolean json;

        @Mixin
        TokenOption auth;

        @Override
        int run() throws Exception {
            List<RemoteToken> ts;
            try (RemoteClient c = connect(this, auth, remote)) {
                ts = c.tokens();
            }
            Instant now = Instant.now();
            if (json) {
                ArrayNode a = JSON.createArrayNode();
                ts.forEach(t -> a.add(TokenCommand.json(t, now)));
                printJson(a);
                return ExitCode.OK;
            }
            out().printf("%-8s  %-20s  %-11s  %-20s  %-20s  %s%n", "ID", "NAME", "ROLE", "CREATED", "EXPIRES", "STATE");
            for (RemoteToken t : ts) {
                out().printf("%-8s  %-20s  %-11s  %-20s  %-20s  %s%n", t.id(), t.name(), t.role().name().toLowerCase(Locale.ROOT),
                        seconds(t.created()), t.expires().map(TokenCommand::seconds).orElse("never"),
                        t.state(now) + t.revoked().map(r -> " at " + seconds(r) + " by " + t.revokedBy().orElse("?")).orElse(""));
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "revoke", header = "Revoke a token by its id (token list), or every active token of a name; refused from the next call on.")
    static final class Revoke extends BaseCommand {

        @Parameters(index = "0", paramLabel = "ID|NAME", description = "A token id from merit token list, or a token name.")
        String idOrName;

        @Option(names = "--remote", defaultValue = "origin", description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--json", description = "Print the revoked tokens as a JSON array.")
        boolean json;

        @Mixin
        TokenOption auth;

        @Override
        int run() throws Exception {
            List<RemoteToken> revoked;
            try (RemoteClient c = connect(this, auth, remote)) {
                revoked = c.revokeToken(idOrName);
            }
            Instant now = Instant.now();
            if (json) {
                ArrayNode a = JSON.createArrayNode();
                revoked.forEach(t -> a.add(TokenCommand.json(t, now)));
                printJson(a);
            } else {
                revoked.forEach(t -> out().println("Revoked token " + t.id() + " of " + t.name() + " ("
                        + t.role().name().toLowerCase(Locale.ROOT) + ")" + t.revoked().map(r -> " at " + r).orElse("")));
            }
            return ExitCode.OK;
        }
    }

    private static String seconds(Instant t) {
        return t.truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
    }
}
