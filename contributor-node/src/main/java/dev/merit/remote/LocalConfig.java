package dev.merit.remote;

import dev.merit.error.InvalidInputException;
import dev.merit.error.NotFoundException;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import dev.merit.wire.Ed25519;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What a local repository remembers about coordinators, as records of its own store: remotes
 * (name -> URL, token), the contributor's Ed25519 signing key, and the remote-tracking refs
 * {@code refs/remotes/NAME/BRANCH} (the version last fetched, which pushes are computed against).
 */
public final class LocalConfig {

    static final String CONFIG = "config";
    static final String KEYS = "signing-key";

    private final Repository repo;

    public LocalConfig(Repository repo) {
        this.repo = repo;
    }

    public void addRemote(String name, String url, String token) {
        addRemote(name, url, token, RemoteTrust.system());
    }

    /**
     * Names a coordinator; {@code trust} (a CA file's certificates or a pinned fingerprint, for a
     * {@code merits://} URL) replaces what was kept for the name before.
     */
    public void addRemote(String name, String url, String token, RemoteTrust trust) {
        if (!name.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new InvalidInputException("invalid remote name '" + name + "'");
        }
        Remote.of(url, trust);
        String prefix = "remote." + name + ".";
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord(CONFIG, prefix + "url", url.getBytes(StandardCharsets.UTF_8));
            if (token != null && !token.isEmpty()) {
                tx.putRecord(CONFIG, prefix + "token", token.getBytes(StandardCharsets.UTF_8));
            }
            tx.deleteRecord(CONFIG, prefix + "ca");
            tx.deleteRecord(CONFIG, prefix + "pin");
            switch (trust) {
                case RemoteTrust.SystemCas s -> { }
                case RemoteTrust.CaCertificates ca -> tx.putRecord(CONFIG, prefix + "ca", ca.pem().getBytes(StandardCharsets.US_ASCII));
                case RemoteTrust.Pin pin -> tx.putRecord(CONFIG, prefix + "pin", pin.toString().getBytes(StandardCharsets.US_ASCII));
            }
            tx.commit();
        }
    }

    /** The remote's URL and how to trust its certificate (system CAs unless a CA file or pin was given). */
    public Remote remote(String name) {
        String url = url(name);
        Optional<String> ca = get("remote." + name + ".ca");
        Optional<String> pin = get("remote." + name + ".pin");
        RemoteTrust trust = ca.<RemoteTrust>map(pem -> new RemoteTrust.CaCertificates(pem, "remote " + name + "'s CA"))
                .or(() -> pin.map(RemoteTrust::pin)).orElseGet(RemoteTrust::system);
        return Remote.of(url, trust);
    }

    /** How the remote's certificate is checked, for listings: "ca", "pin sha256:..." or empty. */
    public Optional<String> trustDescription(String name) {
        return get("remote." + name + ".pin").map(p -> "pin " + p).or(() -> get("remote." + name + ".ca").map(c -> "ca"));
    }

    public Map<String, String> remotes() {
        Map<String, String> out = new TreeMap<>();
        repo.scanRecords(CONFIG, "remote.", (k, v) -> {
            if (k.endsWith(".url")) {
                out.put(k.substring("remote.".length(), k.length() - ".url".length()), new String(v, StandardCharsets.UTF_8));
            }
        });
        return out;
    }

    public String url(String remote) {
        return get("remote." + remote + ".url").orElseThrow(() -> new NotFoundException(
                "no remote '" + remote + "' (add one with merit remote add " + remote + " URL)"));
    }

    public Optional<String> token(String remote) {
        return get("remote." + remote + ".token");
    }

    private Optional<String> get(String key) {
        return repo.getRecord(CONFIG, key).map(b -> new String(b, StandardCharsets.UTF_8));
    }

    /** The signing key, created on first use. */
    public KeyPair signingKey() {
        Optional<byte[]> priv = repo.getRecord(KEYS, "private");
        Optional<byte[]> pub = repo.getRecord(KEYS, "public");
        if (priv.isPresent() && pub.isPresent()) {
            return new KeyPair(Ed25519.publicKey(pub.get()), Ed25519.privateKey(priv.get()));
        }
        KeyPair kp = Ed25519.generate();
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord(KEYS, "private", kp.getPrivate().getEncoded());
            tx.putRecord(KEYS, "public", kp.getPublic().getEncoded());
            tx.commit();
        }
        return kp;
    }

    /**
     * The key a rotation is moving to: made once and kept until the coordinator took it, so a
     * rotation cut short is finished with the same key rather than stranding a new one.
     */
    public KeyPair pendingKey() {
        Optional<byte[]> priv = repo.getRecord(KEYS, "pending.private");
        Optional<byte[]> pub = repo.getRecord(KEYS, "pending.public");
        if (priv.isPresent() && pub.isPresent()) {
            return new KeyPair(Ed25519.publicKey(pub.get()), Ed25519.privateKey(priv.get()));
        }
        KeyPair kp = Ed25519.generate();
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord(KEYS, "pending.private", kp.getPrivate().getEncoded());
            tx.putRecord(KEYS, "pending.public", kp.getPublic().getEncoded());
            tx.commit();
        }
        return kp;
    }

    /** Makes the pending key the signing key; the old one is kept as a former key (to rotate on other remotes). */
    public void promotePendingKey() {
        KeyPair old = signingKey();
        KeyPair next = pendingKey();
        try (Transaction tx = repo.newTransaction()) {
            retire(tx, old);
            tx.putRecord(KEYS, "private", next.getPrivate().getEncoded());
            tx.putRecord(KEYS, "public", next.getPublic().getEncoded());
            tx.deleteRecord(KEYS, "pending.private");
            tx.deleteRecord(KEYS, "pending.public");
            tx.commit();
        }
    }

    /** Stops signing with the current key (it was revoked): it becomes a former key, and the next use makes a new one. */
    public void retireSigningKey() {
        KeyPair old = signingKey();
        try (Transaction tx = repo.newTransaction()) {
            retire(tx, old);
            tx.deleteRecord(KEYS, "private");
            tx.deleteRecord(KEYS, "public");
            tx.commit();
        }
    }

    /** This repository's former signing keys by fingerprint. */
    public Map<String, KeyPair> formerKeys() {
        Map<String, byte[]> pubs = new TreeMap<>();
        Map<String, byte[]> privs = new TreeMap<>();
        repo.scanRecords(KEYS, "former.", (k, v) -> {
            String rest = k.substring("former.".length());
            int dot = rest.indexOf('.');
            (rest.endsWith(".public") ? pubs : privs).put(rest.substring(0, dot), v);
        });
        Map<String, KeyPair> out = new TreeMap<>();
        pubs.forEach((fp, pub) -> {
            if (privs.containsKey(fp)) {
                out.put(fp, new KeyPair(Ed25519.publicKey(pub), Ed25519.privateKey(privs.get(fp))));
            }
        });
        return out;
    }

    private static void retire(Transaction tx, KeyPair k) {
        String fp = Ed25519.fingerprint(k.getPublic().getEncoded());
        tx.putRecord(KEYS, "former." + fp + ".public", k.getPublic().getEncoded());
        tx.putRecord(KEYS, "former." + fp + ".private", k.getPrivate().getEncoded());
    }

    public PrivateKey privateKey() {
        return signingKey().getPrivate();
    }

    public static String trackingRef(String remote, String branch) {
        return "refs/remotes/" + remote + "/" + branch;
    }

    public Optional<ObjectId> tracking(String remote, String branch) {
        try {
            return Optional.of(repo.resolve(trackingRef(remote, branch)));
        } catch (NotFoundException e) {
            return Optional.empty();
        }
    }

    /** Moves the remote-tracking ref to what the coordinator has (it is only ever what the coordinator said). */
    public void setTracking(String remote, String branch, ObjectId id) {
        Optional<ObjectId> cur = tracking(remote, branch);
        repo.updateBranch(trackingRef(remote, branch), cur, id, "fetch " + remote + " " + branch);
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord(CONFIG, "tracking." + remote + "/" + branch, new byte[0]);
            tx.commit();
        }
    }

    /** Commits this repository has (branch heads and remote-tracking refs), to tell a coordinator what not to send. */
    public List<ObjectId> haves() {
        List<ObjectId> out = new ArrayList<>(repo.branches().values());
        repo.scanRecords(CONFIG, "tracking.", (k, v) -> {
            String rb = k.substring("tracking.".length());
            int slash = rb.indexOf('/');
            tracking(rb.substring(0, slash), rb.substring(slash + 1)).ifPresent(out::add);
        });
        return out.stream().distinct().toList();
    }
}
