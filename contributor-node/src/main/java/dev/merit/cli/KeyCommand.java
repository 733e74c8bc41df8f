package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteKey;
import dev.merit.remote.RemoteProposal;
import dev.merit.store.Repository;
import dev.merit.wire.Ed25519;
import dev.merit.wire.KeyProofs;
import java.security.KeyPair;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "key", header = "Your proposal-signing key: key register, show, rotate, revoke, verify.",
        subcommands = {KeyCommand.Register.class, KeyCommand.Show.class, KeyCommand.Rotate.class, KeyCommand.Revoke.class,
                KeyCommand.Verify.class})
// Not a command of its own: picocli reports a missing subcommand as a usage error.
final class KeyCommand {

    private KeyCommand() {}

    private static String fp(KeyPair k) {
        return Ed25519.fingerprint(k.getPublic().getEncoded());
    }

    static ObjectNode json(RemoteKey k) {
        ObjectNode n = BaseCommand.JSON.createObjectNode().put("contributor", k.contributor()).put("fingerprint", k.fingerprint())
                .put("status", k.status().name().toLowerCase(Locale.ROOT));
        k.registered().ifPresent(t -> n.put("registered", t.toString()));
        k.supersededAt().ifPresent(t -> n.put("superseded_at", t.toString()));
        k.supersededBy().ifPresent(t -> n.put("superseded_by", t));
        k.revokedAt().ifPresent(t -> n.put("revoked_at", t.toString()));
        k.revokedBy().ifPresent(t -> n.put("revoked_by", t));
        return n;
    }

    @Command(name = "register", header = "Register your Ed25519 key with a coordinator (creating the key if needed).")
    static final class Register extends BaseCommand {

        @Parameters(index = "0", arity = "0..1", paramLabel = "REMOTE", defaultValue = "origin",
                description = "Remote name or URL (default: origin).")
        String remote;

        @Mixin
        TokenOption auth;

        @Override
        int run() {
            try (Repository repo = openRepository()) {
                LocalConfig cfg = new LocalConfig(repo);
                KeyPair kp = cfg.signingKey();
                try (RemoteClient c = auth.connect(Optional.of(cfg), remote)) {
                    String who = c.whoAmI().name();
                    c.registerKey(kp.getPublic().getEncoded());
                    out().println("Registered key " + fp(kp) + " for " + who + " on " + remote);
                }
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "show", header = "List your keys with their status: this repository's, or a coordinator's (key show REMOTE).")
    static final class Show extends BaseCommand {

        @Parameters(index = "0", arity = "0..1", paramLabel = "REMOTE",
                description = "Ask this remote (name or URL) for the keys it has, former ones too; without it, this repository's keys.")
        String remote;

        @Option(names = "--contributor", defaultValue = "", paramLabel = "NAME", description = "With REMOTE: another contributor's keys.")
        String contributor;

        @Option(names = "--json", description = "Print the keys as a JSON array.")
        boolean json;

        @Mixin
        TokenOption auth;

        @Override
        int run() throws Exception {
            try (Repository repo = openRepository()) {
                LocalConfig cfg = new LocalConfig(repo);
                if (remote == null) {
                    return local(cfg);
                }
                List<RemoteKey> keys;
                try (RemoteClient c = auth.connect(Optional.of(cfg), remote)) {
                    keys = c.keys(contributor);
                }
                if (json) {
                    ArrayNode a = JSON.createArrayNode();
                    keys.forEach(k -> a.add(KeyCommand.json(k)));
                    printJson(a);
                } else if (keys.isEmpty()) {
                    out().println("No keys registered on " + remote + (contributor.isEmpty() ? "" : " for " + contributor));
                } else {
                    for (RemoteKey k : keys) {
                        out().printf("%s  %-12s %s%s%n", k.fingerprint(), k.contributor(), k.describe(),
                                k.registered().map(t -> " (registered " + t + ")").orElse(""));
                    }
                }
            }
            return ExitCode.OK;
        }

        private int local(LocalConfig cfg) throws Exception {
            KeyPair kp = cfg.signingKey();
            Map<String, KeyPair> former = cfg.formerKeys();
            if (json) {
                ArrayNode a = JSON.createArrayNode();
                former.keySet().forEach(f -> a.add(JSON.createObjectNode().put("fingerprint", f).put("status", "former")));
                a.add(JSON.createObjectNode().put("fingerprint", fp(kp)).put("status", "current"));
                printJson(a);
            } else {
                out().println("Ed25519 key " + fp(kp));
                former.keySet().forEach(f -> out().println("former key " + f + " (rotated or revoked; merit key show REMOTE says when)"));
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "rotate", header = "Replace your key on a coordinator with a new one, signed by the old key; old proposals stay verifiable.")
    static final class Rotate extends BaseCommand {

        @Parameters(index = "0", arity = "0..1", paramLabel = "REMOTE", defaultValue = "origin",
                description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--json", description = "Print the result as JSON.")
        boolean json;

        @Mixin
        TokenOption auth;

        @Override
        int run() throws Exception {
            try (Repository repo = openRepository()) {
                LocalConfig cfg = new LocalConfig(repo);
                try (RemoteClient c = auth.connect(Optional.of(cfg), remote)) {
                    String who = c.whoAmI().name();
                    Optional<RemoteKey> current = c.keys("").stream().filter(k -> k.status() == RemoteKey.Status.CURRENT).findFirst();
                    if (current.isEmpty()) {
                        throw new MeritException("'" + who + "' has no current key on " + remote
                                + " to rotate from; register one with merit key register " + remote);
                    }
                    String from = current.get().fingerprint();
                    KeyPair signer;
                    KeyPair next;
                    boolean fresh = from.equals(fp(cfg.signingKey()));
                    if (fresh) {
                        // The usual case: a new key, kept pending until the coordinator took it.
                        signer = cfg.signingKey();
                        next = cfg.pendingKey();
                    } else if (cfg.formerKeys().containsKey(from)) {
                        // Rotated here already (for another remote): move this coordinator to the key in use.
                        signer = cfg.formerKeys().get(from);
                        next = cfg.signingKey();
                    } else {
                        throw new MeritException("the current key " + from + " of '" + who + "' on " + remote
                                + " is not one of this repository's keys (merit key show); a maintainer can revoke it (merit key revoke "
                                + from + "), then merit key register");
                    }
                    byte[] proof = Ed25519.sign(signer.getPrivate(), KeyProofs.rotation(who, from, next.getPublic().getEncoded()));
                    RemoteClient.KeyRotation r = c.rotateKey(next.getPublic().getEncoded(), proof);
                    if (fresh) {
                        cfg.promotePendingKey();
                    }
                    if (json) {
                        printJson(JSON.createObjectNode().put("contributor", who).put("previous", r.previous()).put("current", r.current()));
                    } else {
                        out().println("Rotated the key of " + who + " on " + remote + " from " + r.previous() + " to " + r.current()
                                + "; proposals are signed with " + r.current() + " from now on");
                    }
                }
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "revoke", header = "Revoke a signing key (yours, or anyone's for maintainers): proposals signed with it are refused from now on.")
    static final class Revoke extends BaseCommand {

        @Parameters(index = "0", paramLabel = "FINGERPRINT", description = "The key's fingerprint (merit key show REMOTE).")
        String fingerprint;

        @Option(names = "--remote", defaultValue = "origin", description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--json", description = "Print the revoked key as JSON.")
        boolean json;

        @Mixin
        TokenOption auth;

        @Override
        int run() throws Exception {
            if (!fingerprint.matches("[0-9a-fA-F]{4,16}")) {
                throw new InvalidInputException("FINGERPRINT '" + fingerprint + "': expected up to 16 hex digits (merit key show REMOTE)");
            }
            String f = fingerprint.toLowerCase(Locale.ROOT);
            try (Repository repo = openRepository()) {
                LocalConfig cfg = new LocalConfig(repo);
                try (RemoteClient c = auth.connect(Optional.of(cfg), remote)) {
                    String who = c.whoAmI().name();
                    // Revoking one's own key proves holding it when this repository has it (the coordinator
                    // requires that for a current key, so a stolen token alone cannot remove it).
                    KeyPair mine = cfg.signingKey();
                    Optional<KeyPair> held = fp(mine).startsWith(f) ? Optional.of(mine)
                            : cfg.formerKeys().entrySet().stream().filter(e -> e.getKey().startsWith(f)).map(Map.Entry::getValue).findFirst();
                    byte[] proof = held.map(k -> Ed25519.sign(k.getPrivate(), KeyProofs.revocation(who, fp(k)))).orElse(new byte[0]);
                    RemoteKey k = c.revokeKey(f, proof);
                    boolean ownCurrent = k.contributor().equals(who) && k.fingerprint().equals(fp(mine));
                    if (ownCurrent) {
                        cfg.retireSigningKey();
                    }
                    if (json) {
                        printJson(KeyCommand.json(k));
                    } else {
                        out().println("Revoked key " + k.fingerprint() + " of " + k.contributor() + " on " + remote + " ("
                                + k.describe() + ")");
                        if (ownCurrent) {
                            out().println("This repository signs with a new key from now on; register it: merit key register " + remote);
                        }
                    }
                }
            }
            return ExitCode.OK;
        }
    }

    @Command(name = "verify", header = "Check a proposal's signature with the key that signed it, even if that key was rotated or revoked since.")
    static final class Verify extends BaseCommand {

        @Parameters(index = "0", paramLabel = "PROPOSAL", description = "The proposal id.")
        String id;

        @Parameters(index = "1", arity = "0..1", paramLabel = "REMOTE", defaultValue = "origin",
                description = "Remote name or URL (default: origin).")
        String remote;

        @Option(names = "--json", description = "Print the verdict as JSON.")
        boolean json;

        @Mixin
        TokenOption auth;

        @Override
        int run() throws Exception {
            RemoteProposal p;
            List<RemoteKey> keys;
            try (RemoteClient c = TokenCommand.connect(this, auth, remote)) {
                p = c.proposal(id);
                keys = c.keys(p.contributor());
            }
            if (p.signingKey().isEmpty() || p.signature().isEmpty()) {
                throw new MeritException("proposal " + p.id() + " (" + p.status().name().toLowerCase(Locale.ROOT)
                        + ") has no recorded signature to verify (rejected, or stored before signatures were kept)");
            }
            String f = p.signingKey().get();
            Optional<RemoteKey> key = keys.stream().filter(k -> k.fingerprint().equals(f)).findFirst();
            boolean ok = key.isPresent() && Ed25519.verify(key.get().publicKey(), HexFormat.of().parseHex(p.digest()),
                    HexFormat.of().parseHex(p.signature().get()));
            if (json) {
                ObjectNode n = JSON.createObjectNode().put("proposal", p.id()).put("contributor", p.contributor())
                        .put("signing_key", f).put("verified", ok);
                key.ifPresent(k -> n.put("key_status", k.status().name().toLowerCase(Locale.ROOT)));
                printJson(n);
            } else if (ok) {
                out().println("Proposal " + p.id() + " by " + p.contributor() + ": signature verifies with key " + f + " ("
                        + key.get().describe() + ")");
            } else {
                err().println("Proposal " + p.id() + " by " + p.contributor() + ": signature does NOT verify with key " + f
                        + key.map(k -> " (" + k.describe() + ")").orElse(" (the coordinator does not list that key)"));
            }
            return ok ? ExitCode.OK : ExitCode.FAILURE;
        }
    }
}
