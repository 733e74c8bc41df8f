package dev.merit.remote;

import dev.merit.error.InvalidInputException;
import java.util.Objects;

/**
 * Where a coordinator is and how to trust it: {@code merit://HOST:PORT} (plain text, or a bare
 * {@code HOST:PORT}) or {@code merits://HOST:PORT} (TLS, checked by {@link #trust()}).
 */
public record Remote(String url, String target, boolean tls, RemoteTrust trust) {

    public static final String PLAIN_SCHEME = "merit://";
    public static final String TLS_SCHEME = "merits://";

    public Remote {
        Objects.requireNonNull(trust);
    }

    /** {@code url} with the system's certificate authorities for a TLS URL. */
    public static Remote of(String url) {
        return of(url, RemoteTrust.system());
    }

    /** {@code url} checked with {@code trust}; a trust other than the system's needs a TLS URL. */
    public static Remote of(String url, RemoteTrust trust) {
        boolean tls = url.startsWith(TLS_SCHEME);
        if (!tls && !(trust instanceof RemoteTrust.SystemCas)) {
            throw new InvalidInputException("remote URL '" + url + "': --ca and --pin are for TLS; use " + TLS_SCHEME + "HOST:PORT");
        }
        return new Remote(url, RemoteClient.target(url), tls, trust);
    }
}
