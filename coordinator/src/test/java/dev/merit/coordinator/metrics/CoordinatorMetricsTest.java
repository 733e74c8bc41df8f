package dev.merit.coordinator.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/** The metrics' names, labels and values in the text format, and their use from many threads. */
class CoordinatorMetricsTest {

    @Test
    void eachMetricAppearsWithItsLabelsAndValue() {
        CoordinatorMetrics m = new CoordinatorMetrics();
        m.proposalAccepted();
        m.proposalAccepted();
        m.proposalRejected("stale");
        m.proposalRejected("non_finite");
        m.proposalRejected("stale");
        m.bytesReceived(1000);
        m.bytesReceived(24);
        m.mergeDuration(Duration.ofMillis(30));
        m.mergeDuration(Duration.ofSeconds(2));
        m.headVersion("main", 7);
        m.headVersion("main", 8);
        m.headVersion("exp", 2);

        Map<String, Double> s = PrometheusText.parse(m.scrape());
        assertEquals(2.0, s.get("merit_proposals_accepted_total"));
        assertEquals(2.0, s.get("merit_proposals_rejected_total{reason=\"stale\"}"));
        assertEquals(1.0, s.get("merit_proposals_rejected_total{reason=\"non_finite\"}"));
        assertEquals(1024.0, s.get("merit_received_bytes_total"));
        assertEquals(2.0, s.get("merit_merge_duration_seconds_count"));
        assertEquals(2.03, s.get("merit_merge_duration_seconds_sum"), 1e-9);
        assertEquals(0.0, s.get("merit_merge_duration_seconds_bucket{le=\"0.025\"}"));
        assertEquals(1.0, s.get("merit_merge_duration_seconds_bucket{le=\"0.05\"}"));
        assertEquals(2.0, s.get("merit_merge_duration_seconds_bucket{le=\"+Inf\"}"));
        assertEquals(8.0, s.get("merit_head_version{branch=\"main\"}"), "a gauge holds the last value");
        assertEquals(2.0, s.get("merit_head_version{branch=\"exp\"}"));
    }

    @Test
    void separateInstancesKeepSeparateCounts() {
        CoordinatorMetrics a = new CoordinatorMetrics();
        CoordinatorMetrics b = new CoordinatorMetrics();
        a.proposalAccepted();
        assertEquals(1.0, PrometheusText.parse(a.scrape()).get("merit_proposals_accepted_total"));
        assertEquals(0.0, PrometheusText.parse(b.scrape()).get("merit_proposals_accepted_total"));
    }

    @Test
    void countsFromManyThreadsAddUp() throws Exception {
        CoordinatorMetrics m = new CoordinatorMetrics();
        try (ExecutorService pool = Executors.newFixedThreadPool(4)) {
            for (int t = 0; t < 4; t++) {
                pool.submit(() -> {
                    for (int i = 0; i < 10_000; i++) {
                        m.proposalAccepted();
                        m.bytesReceived(3);
                        m.proposalRejected(i % 2 == 0 ? "a" : "b");
                    }
                });
            }
        }
        Map<String, Double> s = PrometheusText.parse(m.scrape());
        assertEquals(40_000.0, s.get("merit_proposals_accepted_total"));
        assertEquals(120_000.0, s.get("merit_received_bytes_total"));
        assertEquals(20_000.0, s.get("merit_proposals_rejected_total{reason=\"a\"}"));
    }

    @Test
    void reasonsWithQuotesAreEscapedAndNegativeByteCountsRefused() {
        CoordinatorMetrics m = new CoordinatorMetrics();
        m.proposalRejected("say \"no\"");
        assertTrue(m.scrape().contains("reason=\"say \\\"no\\\"\""), m.scrape());
        assertThrows(IllegalArgumentException.class, () -> m.bytesReceived(-1));
    }
}
