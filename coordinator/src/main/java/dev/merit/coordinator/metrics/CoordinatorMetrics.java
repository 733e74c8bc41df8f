package dev.merit.coordinator.metrics;

import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;

/**
 * A coordinator's Prometheus metrics. Each instance has its own registry, so several
 * coordinators in one process (tests) do not share counts. Thread-safe.
 *
 * <table>
 * <caption>Metrics</caption>
 * <tr><td>{@code merit_proposals_accepted_total}</td><td>counter</td></tr>
 * <tr><td>{@code merit_proposals_rejected_total{reason}}</td><td>counter; {@code reason} is a short code
 *   such as {@code stale} or {@code non_finite}: keep the set small, Prometheus keeps a series per value</td></tr>
 * <tr><td>{@code merit_received_bytes_total}</td><td>counter of delta bytes received</td></tr>
 * <tr><td>{@code merit_merge_duration_seconds}</td><td>histogram</td></tr>
 * <tr><td>{@code merit_head_version{branch}}</td><td>gauge: the version number of each branch's head</td></tr>
 * <tr><td>{@code merit_events_published_total}</td><td>counter: outbox events written to Kafka</td></tr>
 * <tr><td>{@code merit_event_relay_failures_total}</td><td>counter: failed attempts to publish (Kafka
 *   unreachable or slow); rising while events wait in the outbox</td></tr>
 * </table>
 */
public final class CoordinatorMetrics {

    /** The content type of {@link #scrape()} (Prometheus text format 0.0.4). */
    public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    private final Counter accepted;
    private final Counter rejected;
    private final Counter bytes;
    private final Histogram merges;
    private final Gauge heads;
    private final Counter published;
    private final Counter relayFailures;

    public CoordinatorMetrics() {
        accepted = Counter.builder()
                .name("merit_proposals_accepted_total")
                .help("Proposals that passed validation and were stored")
                .register(registry);
        rejected = Counter.builder()
                .name("merit_proposals_rejected_total")
                .help("Proposals refused, by reason")
                .labelNames("reason")
                .register(registry);
        bytes = Counter.builder()
                .name("merit_received_bytes_total")
                .help("Bytes of proposals received over the network")
                .unit(io.prometheus.metrics.model.snapshots.Unit.BYTES)
                .register(registry);
        merges = Histogram.builder()
                .name("merit_merge_duration_seconds")
                .help("Time to merge a round of proposals into a new version")
                .unit(io.prometheus.metrics.model.snapshots.Unit.SECONDS)
                // merges of small sparse deltas take milliseconds; whole-model ones minutes
                .classicOnly()
                .classicUpperBounds(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
                .register(registry);
        heads = Gauge.builder()
                .name("merit_head_version")
                .help("Version number of each branch's head")
                .labelNames("branch")
                .register(registry);
        published = Counter.builder()
                .name("merit_events_published_total")
                .help("Outbox events written to Kafka")
                .register(registry);
        relayFailures = Counter.builder()
                .name("merit_event_relay_failures_total")
                .help("Failed attempts to publish outbox events to Kafka")
                .register(registry);
    }

    public void proposalAccepted() {
        accepted.inc();
    }

    public void proposalRejected(String reason) {
        rejected.labelValues(Objects.requireNonNull(reason, "reason")).inc();
    }

    public void bytesReceived(long n) {
        if (n < 0) {
            throw new IllegalArgumentException("bytes received " + n + " < 0");
        }
        bytes.inc(n);
    }

    public void mergeDuration(Duration d) {
        merges.observe(d.toNanos() / 1e9);
    }

    public void headVersion(String branch, long number) {
        heads.labelValues(Objects.requireNonNull(branch, "branch")).set(number);
    }

    public void eventsPublished(long n) {
        published.inc(n);
    }

    public void eventRelayFailed() {
        relayFailures.inc();
    }

    /** All metrics in the Prometheus text exposition format. */
    public String scrape() {
        var out = new ByteArrayOutputStream();
        scrape(out);
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Writes {@link #scrape()} to {@code out} without building a string. */
    public void scrape(OutputStream out) {
        try {
            writer.write(out, registry.scrape(), EscapingScheme.UNDERSCORE_ESCAPING);
        } catch (IOException e) {
            throw new UncheckedIOException("writing metrics", e);
        }
    }
}
