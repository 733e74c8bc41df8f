package dev.merit.cli;

import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
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

    static RemoteClient connect(String explicitToken, Optional<LocalConfig> cfg, String remoteOrUrl) {
        return RemoteClient.connect(url(cfg, remoteOrUrl), token(explicitToken, cfg, remoteOrUrl));
    }

    static String status(ProposalStatus s) {
        return switch (s) {
            case ACCEPTED -> "accepted";
            case REJECTED -> "rejected";
            case MERGED -> "merged";
            default -> "unknown";
        };
    }

    static void print(PrintWriter out, Proposal p, boolean checks) {
        out.printf("Proposal %s to %s by %s: %s%n", p.getId(), p.getBranch(), p.getContributor(), status(p.getStatus()));
        for (String r : p.getReasonsList()) {
            out.println("  reason: " + r);
        }
        if (checks) {
            p.getChecksList().forEach(c -> out.printf("  %-4s %-10s %s%n", c.getPassed() ? "ok" : "FAIL", c.getName(), c.getDetail()));
        }
        if (p.getStatus() != ProposalStatus.REJECTED) {
            out.printf("  %d entries, density %.4g, L2 norm %.4g, staleness %d (weight %.4g)%n",
                    p.getEntries(), p.getDensity(), p.getNorm(), p.getStaleness(), p.getStalenessWeight());
        }
        if (!p.getMergedIn().isEmpty()) {
            out.println("  merged into " + p.getMergedIn().substring(0, 12));
        }
        if (!p.getReview().isEmpty()) {
            out.println("  review: " + p.getReview());
        }
    }
}
