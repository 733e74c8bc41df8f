package dev.merit.coordinator.events;

import static dev.merit.coordinator.events.KafkaTestSupport.await;
import static dev.merit.coordinator.events.KafkaTestSupport.pending;
import static dev.merit.coordinator.events.KafkaTestSupport.readAll;
import static dev.merit.coordinator.events.KafkaTestSupport.sequence;
import static dev.merit.coordinator.events.KafkaTestSupport.writeEvent;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.metrics.CoordinatorMetrics;
import dev.merit.coordinator.metrics.PrometheusText;
import dev.merit.store.Outbox;
import dev.merit.store.Repository;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The relay after a crash or a failed send: what already reached Kafka is not sent again, and
 * what did not is sent once. One broker serves the class; each test uses its own keys.
 */
class RelayRecoveryTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    static Path shared;

    private static EmbeddedKafka broker;

    @TempDir
    Path dir;

    @BeforeAll
    static void startBroker() {
        broker = EmbeddedKafka.start(shared.resolve("kafka"));
    }

    @AfterAll
    static void stopBroker() {
        broker.close();
    }

    /** The broker's credential, given as an external cluster's {@code --kafka-config} would be. */
    private static Path clientConfig() {
        return shared.resolve("kafka").resolve(EmbeddedKafka.CLIENT_CONFIG);
    }

    private static List<String> keysWithPrefix(String topic, String prefix) {
        return readAll(broker.access(), topic).stream()
                .map(ConsumerRecord::key).filter(k -> k.startsWith(prefix)).toList();
    }

    @Test
    void eventsSentButNotRemovedBeforeACrashAreNotSentAgain() {
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            IntStream.range(0, 10).forEach(i -> writeEvent(repo, Topics.PROPOSALS, "crash-" + i, "{\"i\":" + i + "}"));
            // A relay sent the first six and died before removing them from the outbox.
            List<Outbox.Event> sent = repo.outbox().pending(6);
            Properties p = broker.access().clientProperties();
            try (var producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer())) {
                for (Outbox.Event e : sent) {
                    var r = new ProducerRecord<>(e.topic(), e.key(), e.value());
                    r.headers().add(Topics.SEQUENCE_HEADER, ByteBuffer.allocate(8).putLong(e.sequence()).array());
                    producer.send(r);
                }
            }
            try (EventBus bus = EventBus.start(repo, dir, broker.bootstrapServers(), clientConfig(), new CoordinatorMetrics())) {
                await("the outbox to drain", WAIT, () -> pending(repo) == 0);
                assertEquals(6, bus.skippedAsPublishedCount());
                assertEquals(4, bus.publishedCount());
            }
            assertEquals(IntStream.range(0, 10).mapToObj(i -> "crash-" + i).toList(),
                    keysWithPrefix(Topics.PROPOSALS, "crash-"));
        }
    }

    @Test
    void anEventEqualToAnEarlierOneOnlyInItsSequenceNumberIsStillSent() {
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            writeEvent(repo, Topics.VERSIONS, "seq-a", "{}");
            try (EventBus bus = EventBus.start(repo, dir, broker.bootstrapServers(), clientConfig(), new CoordinatorMetrics())) {
                await("the first event", WAIT, () -> pending(repo) == 0);
                // Same topic, key and value, but a new event: identity includes the sequence number.
                writeEvent(repo, Topics.VERSIONS, "seq-a", "{}");
                bus.wakeRelay();
                await("the second event", WAIT, () -> pending(repo) == 0);
            }
        }
        // The repository numbers its outbox from its last pending row, so after it was emptied and
        // reopened it may hand out a number again: an event with a reused number but other content
        // must not be taken for the published one.
        try (Repository repo = Repository.open(dir.resolve("repo"))) {
            writeEvent(repo, Topics.VERSIONS, "seq-a", "{\"later\":true}");
            try (EventBus bus = EventBus.start(repo, dir, broker.bootstrapServers(), clientConfig(), new CoordinatorMetrics())) {
                await("the event after reopening", WAIT, () -> pending(repo) == 0);
                assertEquals(0, bus.skippedAsPublishedCount());
            }
        }
        List<ConsumerRecord<String, byte[]>> records = readAll(broker.access(), Topics.VERSIONS).stream()
                .filter(r -> r.key().equals("seq-a")).toList();
        assertEquals(List.of("{}", "{}", "{\"later\":true}"), records.stream().map(KafkaTestSupport::text).toList());
        assertTrue(sequence(records.get(0)) < sequence(records.get(1)));
    }

    @Test
    void afterFailedAttemptsTheRelayPublishesEachEventOnceAndStopsPromptlyMeanwhile() {
        Path otherKafka = dir.resolve("other-kafka");
        EmbeddedKafka other = EmbeddedKafka.start(otherKafka);
        KafkaAccess address = other.access();
        other.close();
        CoordinatorMetrics metrics = new CoordinatorMetrics();
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            IntStream.range(0, 5).forEach(i -> writeEvent(repo, Topics.PROPOSALS, "fail-" + i, "{}"));
            // Short timeouts, so attempts against the stopped broker fail quickly.
            OutboxRelay relay = new OutboxRelay(repo, address, metrics, Duration.ofMillis(500));
            relay.start();
            await("an attempt to fail", WAIT, () -> relay.failures() >= 2);
            // close() while Kafka is down returns (its waits are bounded) and keeps the events.
            relay.close();
            assertEquals(5, pending(repo));

            OutboxRelay again = new OutboxRelay(repo, address, metrics, Duration.ofMillis(500));
            again.start();
            IntStream.range(5, 8).forEach(i -> writeEvent(repo, Topics.PROPOSALS, "fail-" + i, "{}"));
            again.wake();
            other = EmbeddedKafka.start(otherKafka);
            try {
                await("the outbox to drain", WAIT, () -> pending(repo) == 0);
                again.close();
                assertEquals(IntStream.range(0, 8).mapToObj(i -> "fail-" + i).toList(),
                        readAll(address, Topics.PROPOSALS).stream().map(ConsumerRecord::key).toList());
                Map<String, Double> scraped = PrometheusText.parse(metrics.scrape());
                assertEquals(8.0, scraped.get("merit_events_published_total"));
                assertTrue(scraped.get("merit_event_relay_failures_total") >= 2.0);
            } finally {
                again.close();
                other.close();
            }
        }
    }

    @Test
    void anEventKafkaCanNeverTakeIsSetAsideAndDoesNotHoldBackTheOthers() {
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            writeEvent(repo, Topics.PROPOSALS, "big-0", "{}");
            // Over the producer's default max.request.size (1 MiB).
            writeEvent(repo, Topics.PROPOSALS, "big-1", "x".repeat(2 << 20));
            writeEvent(repo, Topics.PROPOSALS, "big-2", "{}");
            try (EventBus bus = EventBus.start(repo, dir, broker.bootstrapServers(), clientConfig(), new CoordinatorMetrics())) {
                await("the outbox to drain", WAIT, () -> pending(repo) == 0);
                assertEquals(2, bus.publishedCount());
            }
            assertEquals(List.of("big-0", "big-2"), keysWithPrefix(Topics.PROPOSALS, "big-"));
            List<String> aside = new java.util.ArrayList<>();
            repo.scanRecords(OutboxRelay.SET_ASIDE, "", (k, v) -> aside.add(new String(v, java.nio.charset.StandardCharsets.UTF_8)));
            assertEquals(1, aside.size());
            assertTrue(aside.getFirst().contains("\"key\":\"big-1\"") && aside.getFirst().contains("RecordTooLargeException"),
                    aside.getFirst().substring(0, 300));
        }
    }
}
