package dev.merit.coordinator.http;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.merit.coordinator.events.EventFeed;
import dev.merit.coordinator.metrics.CoordinatorMetrics;
import dev.merit.coordinator.review.ReviewService;
import dev.merit.error.MeritException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import javax.net.ssl.SSLContext;

/**
 * The coordinator's HTTP port (JDK HTTP server, one virtual thread per request). Serves {@code
 * GET /metrics} for Prometheus, the review page and its API ({@link #serveReviewPage}); further
 * pages are added with {@link #handle}. With an {@link SSLContext} it serves HTTPS only.
 */
public final class HttpEndpoint implements AutoCloseable {

    private final HttpServer server;
    private final ExecutorService executor;

    private HttpEndpoint(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Binds {@code host:port} ({@code port} 0 picks a free one) and serves {@code metrics} at {@code /metrics}. */
    public static HttpEndpoint start(String host, int port, CoordinatorMetrics metrics) {
        return start(host, port, metrics, Optional.empty());
    }

    /** As {@link #start(String, int, CoordinatorMetrics)}, over TLS (HTTPS) when {@code tls} is given. */
    public static HttpEndpoint start(String host, int port, CoordinatorMetrics metrics, Optional<SSLContext> tls) {
        Objects.requireNonNull(metrics, "metrics");
        HttpServer server;
        try {
            if (tls.isPresent()) {
                HttpsServer https = HttpsServer.create(new InetSocketAddress(host, port), 0);
                https.setHttpsConfigurator(new HttpsConfigurator(tls.get()));
                server = https;
            } else {
                server = HttpServer.create(new InetSocketAddress(host, port), 0);
            }
        } catch (IOException e) {
            throw new MeritException("cannot listen for HTTP on " + host + ":" + port + ": " + e.getMessage(), e);
        }
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
        server.setExecutor(executor);
        HttpEndpoint endpoint = new HttpEndpoint(server, executor);
        endpoint.handle("/metrics", new MetricsHandler(metrics));
        server.start();
        return endpoint;
    }

    /** The bound port (the chosen one when started with port 0). */
    public int port() {
        return server.getAddress().getPort();
    }

    /** Serves the review page at {@code /} and its JSON API (and event stream, given a feed) under {@code /api/}. */
    public HttpEndpoint serveReviewPage(ReviewService review, Optional<EventFeed> feed) {
        handle("/api/", new ReviewApi(review, feed));
        return handle("/", new StaticPage());
    }

    /** Serves {@code path} and everything under it with {@code handler}. */
    public HttpEndpoint handle(String path, HttpHandler handler) {
        server.createContext(path, handler);
        return this;
    }

    /** Stops accepting requests, gives running ones a second to finish, and stops. */
    @Override
    public void close() {
        server.stop(1);
        executor.shutdownNow();
    }

    /** {@code GET /metrics}: the Prometheus text format. */
    private record MetricsHandler(CoordinatorMetrics metrics) implements HttpHandler {

        @Override
        public void handle(HttpExchange ex) throws IOException {
            try (ex) {
                if (!ex.getRequestURI().getPath().equals("/metrics")) {
                    sendText(ex, 404, "not found: " + ex.getRequestURI().getPath() + "\n");
                    return;
                }
                String method = ex.getRequestMethod();
                if (!method.equals("GET") && !method.equals("HEAD")) {
                    ex.getResponseHeaders().set("Allow", "GET, HEAD");
                    sendText(ex, 405, "method " + method + " not allowed on /metrics\n");
                    return;
                }
                var body = new ByteArrayOutputStream();
                metrics.scrape(body);
                ex.getResponseHeaders().set("Content-Type", CoordinatorMetrics.CONTENT_TYPE);
                ex.getResponseHeaders().set("Cache-Control", "no-store");
                if (method.equals("HEAD")) {
                    ex.sendResponseHeaders(200, -1);
                    return;
                }
                ex.sendResponseHeaders(200, body.size());
                try (OutputStream os = ex.getResponseBody()) {
                    body.writeTo(os);
                }
            }
        }

        private static void sendText(HttpExchange ex, int status, String text) throws IOException {
            byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            ex.sendResponseHeaders(status, b.length);
            try (OutputStream os = ex.getResponseBody()) {
                os.write(b);
            }
        }
    }
}
