package dev.merit.coordinator.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.metrics.CoordinatorMetrics;
import dev.merit.coordinator.metrics.PrometheusText;
import dev.merit.error.MeritException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code /metrics} over real HTTP on loopback. */
class HttpEndpointTest {

    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private CoordinatorMetrics metrics;
    private HttpEndpoint endpoint;

    @BeforeEach
    void start() {
        metrics = new CoordinatorMetrics();
        endpoint = HttpEndpoint.start("127.0.0.1", 0, metrics);
    }

    @AfterEach
    void stop() {
        endpoint.close();
        client.close();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).GET());
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return client.send(b.timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private URI uri(String path) {
        return URI.create("http://127.0.0.1:" + endpoint.port() + path);
    }

    @Test
    void aScrapeShowsWhatWasCountedAndLaterScrapesShowTheIncrease() throws Exception {
        metrics.proposalAccepted();
        metrics.proposalRejected("too_large");
        metrics.bytesReceived(4096);
        metrics.mergeDuration(Duration.ofMillis(120));
        metrics.headVersion("main", 3);

        HttpResponse<String> r = get("/metrics");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain; version=0.0.4"),
                r.headers().toString());
        Map<String, Double> s = PrometheusText.parse(r.body());
        assertEquals(1.0, s.get("merit_proposals_accepted_total"));
        assertEquals(1.0, s.get("merit_proposals_rejected_total{reason=\"too_large\"}"));
        assertEquals(4096.0, s.get("merit_received_bytes_total"));
        assertEquals(1.0, s.get("merit_merge_duration_seconds_count"));
        assertEquals(0.12, s.get("merit_merge_duration_seconds_sum"), 1e-9);
        assertEquals(3.0, s.get("merit_head_version{branch=\"main\"}"));
        assertTrue(r.body().contains("# TYPE merit_merge_duration_seconds histogram"), r.body());

        metrics.proposalAccepted();
        metrics.headVersion("main", 4);
        Map<String, Double> again = PrometheusText.parse(get("/metrics").body());
        assertEquals(2.0, again.get("merit_proposals_accepted_total"));
        assertEquals(4.0, again.get("merit_head_version{branch=\"main\"}"));
    }

    @Test
    void otherPathsAndMethodsAreRefused() throws Exception {
        assertEquals(404, get("/nothing").statusCode());
        assertEquals(404, get("/metrics/x").statusCode());
        HttpResponse<String> post = send(HttpRequest.newBuilder(uri("/metrics")).POST(HttpRequest.BodyPublishers.ofString("x")));
        assertEquals(405, post.statusCode());
        assertEquals("GET, HEAD", post.headers().firstValue("Allow").orElseThrow());
        HttpResponse<String> head = send(HttpRequest.newBuilder(uri("/metrics")).method("HEAD", HttpRequest.BodyPublishers.noBody()));
        assertEquals(200, head.statusCode());
        assertEquals("", head.body());
    }

    @Test
    void extraHandlersShareThePort() throws Exception {
        endpoint.handle("/hello", ex -> {
            byte[] b = "hi".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, b.length);
            try (var os = ex.getResponseBody()) {
                os.write(b);
            }
        });
        assertEquals("hi", get("/hello").body());
    }

    @Test
    void aPortInUseIsReportedWithTheAddress() {
        var e = assertThrows(MeritException.class, () -> HttpEndpoint.start("127.0.0.1", endpoint.port(), metrics));
        assertTrue(e.getMessage().contains("127.0.0.1:" + endpoint.port()), e.getMessage());
    }
}
