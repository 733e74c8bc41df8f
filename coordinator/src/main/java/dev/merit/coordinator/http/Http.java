package dev.merit.coordinator.http;

import com.sun.net.httpserver.HttpExchange;

/** Headers every response of the HTTP port carries. */
final class Http {

    /**
     * Scripts, styles and data only from this server, no inline script or style, no framing, no
     * form posts: the page is static files that talk to {@code /api/} with fetch.
     */
    static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private Http() {}

    static void securityHeaders(HttpExchange ex) {
        var h = ex.getResponseHeaders();
        h.set("Content-Security-Policy", CSP);
        h.set("X-Content-Type-Options", "nosniff");
        h.set("Referrer-Policy", "no-referrer");
        h.set("X-Frame-Options", "DENY");
        h.set("Cross-Origin-Opener-Policy", "same-origin");
        h.set("Cross-Origin-Resource-Policy", "same-origin");
    }
}
