package dev.merit.coordinator.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * The review page: a fixed set of static files packaged in the coordinator's jar (resources
 * under {@value #ROOT}), served with the strict Content-Security-Policy. Nothing else is served
 * and nothing is fetched from elsewhere.
 */
final class StaticPage implements HttpHandler {

    static final String ROOT = "/dev/merit/coordinator/http/page/";

    private static final Map<String, String> FILES = Map.of(
            "/", "index.html",
            "/index.html", "index.html",
            "/app.js", "app.js",
            "/charts.js", "charts.js",
            "/app.css", "app.css",
            "/favicon.svg", "favicon.svg");

    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "svg", "image/svg+xml");

    private final Map<String, byte[]> content;

    StaticPage() {
        this.content = new java.util.HashMap<>();
        for (String f : FILES.values()) {
            try (InputStream in = StaticPage.class.getResourceAsStream(ROOT + f)) {
                if (in == null) {
                    throw new IllegalStateException("review page file " + ROOT + f + " is missing from the coordinator jar");
                }
                content.put(f, in.readAllBytes());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @Override
    public void handle(HttpExchange ex) throws IOException {
        try (ex) {
            Http.securityHeaders(ex);
            String path = ex.getRequestURI().getPath();
            String method = ex.getRequestMethod();
            String file = FILES.get(path);
            if (file == null) {
                text(ex, 404, "not found: " + path + "\n");
                return;
            }
            if (!method.equals("GET") && !method.equals("HEAD")) {
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
                text(ex, 405, "method " + method + " not allowed on " + path + "\n");
                return;
            }
            byte[] body = content.get(file);
            ex.getResponseHeaders().set("Content-Type", TYPES.get(file.substring(file.lastIndexOf('.') + 1)));
            ex.getResponseHeaders().set("Cache-Control", "no-cache");
            if (method.equals("HEAD")) {
                ex.sendResponseHeaders(200, -1);
                return;
            }
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(body);
            }
        }
    }

    private static void text(HttpExchange ex, int status, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream os = ex.getResponseBody()) {
            os.write(b);
        }
    }
}
