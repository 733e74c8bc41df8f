package dev.merit.cli;

import dev.merit.remote.LocalConfig;
import dev.merit.remote.Remote;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteProposal;
import java.io.PrintWriter;
import java.util.Optional;

/** Shared by the commands that talk to a coordinator: which URL and token to use, and how to print a proposal. */
final class RemoteSupport {

    private RemoteSupport() {}

    static boolean looksLikeUrl(String s) {
        return s.contains("://") || s.matches(".+:\\d{1,5}");
    }

    /** A remote name from the repository's config, or a URL as it is. */
    static String url(Optional<LocalConfig> cfg, String remoteOrUrl) {
        if (looksLikeUrl(remoteOrUrl)) {
            return remoteOrUrl;
        }
        return cfg.orElseThrow(() -> new dev.merit.error.NotFoundException(
                "'" + remoteOrUrl + "' is not a URL, and there is no repository here to look the remote up in")).url(remoteOrUrl);
    }

    /** --token, then MERIT_TOKEN, then the remote's token in the repository's config. */
    static String token(String explicit, Optional<LocalConfig> cfg, String remote) {
        if (explicit != null && !explicit.isEmpty()) {
            return explicit;
        }
        String env = System.getenv("MERIT_TOKEN");
        if (env != null && !env.isEmpty()) {
            return env;
        }
        return cfg.flatMap(c -> looksLikeUrl(remote) ? Optional.empty() : c.token(remote)).orElse(null);
    }

    /** A remote name from the repository's config with its TLS trust (CA file, pin), or a URL as it is. */
    static Remote remote(Optional<LocalConfig> cfg, String remoteOrUrl) {
        if (looksLikeUrl(remoteOrUrl)) {
            return Remote.of(remoteOrUrl);
        }
        return cfg.orElseThrow(() -> new dev.merit.error.NotFoundException(
                "'" + remoteOrUrl + "' is not a URL, and there is no repository here to look the remote up in")).remote(remoteOrUrl);
    }

    static RemoteClient connect(String explicitToken, Optional<LocalConfig> cfg, String remoteOrUrl) {
        return RemoteClient.connect(remote(cfg, remoteOrUrl), token(explicitToken, cfg, remoteOrUrl));
    }

    static String status(RemoteProposal.Status s) {
        return s.name().toLowerCase(java.util.Locale.ROOT);
    }

    static void print(PrintWriter out, RemoteProposal p, boolean checks) {
        out.printf("Proposal %s to %s by %s: %s%n", p.id(), p.branch(), p.contributor(), status(p.status()));
        for (String r : p.reasons()) {
            out.println("  reason: " + r);
        }
        if (checks) {
            p.checks().forEach(c -> out.printf("  %-4s %-10s %s%n", c.passed() ? "ok" : "FAIL", c.name(), c.detail()));
            p.signingKey().ifPresent(k -> out.println("  signed with key " + k + " (merit key verify " + p.id() + ")"));
        }
        if (p.status() != RemoteProposal.Status.REJECTED) {
            out.printf("  %d entries, density %.4g, L2 norm %.4g, staleness %d (weight %.4g)%n",
                    p.entries(), p.density(), p.norm(), p.staleness(), p.stalenessWeight());
        }
        p.mergedIn().ifPresent(m -> out.println("  merged into " + m.substring(0, 12)));
        p.review().ifPresent(r -> out.println("  review: " + r));
    }
}
