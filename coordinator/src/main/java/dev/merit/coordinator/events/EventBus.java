package dev.merit.coordinator.events;

import dev.merit.coordinator.metrics.CoordinatorMetrics;
import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.store.Repository;
import java.nio.file.Path;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A coordinator's event bus: Kafka (the embedded broker, or an external cluster), the topics, and
 * the relay that publishes the repository's outbox. Writers add events to a {@link
 * dev.merit.store.Transaction} together with the change they describe and then call {@link
 * #wakeRelay()}; the relay publishes them exactly once, also across broker outages and restarts.
 *
 * <pre>{@code
 * try (EventBus bus = EventBus.start(repo, dataDir, "embedded")) {
 *     try (Transaction tx = repo.newTransaction()) {
 *         tx.putRecord("proposals", id, record).addEvent(Topics.PROPOSALS, id, event.toJson());
 *         tx.commit();
 *     }
 *     bus.wakeRelay();
 * }
 * }</pre>
 */
public final class EventBus implements AutoCloseable {

    /** The {@code kafka} argument that selects the in-process broker. */
    public static final String EMBEDDED = "embedded";

    private static final Pattern HOST_PORT = Pattern.compile("[^\\s:,]+:\\d{1,5}(,[^\\s:,]+:\\d{1,5})*");

    private final EmbeddedKafka broker;
    private final OutboxRelay relay;
    private final KafkaAccess access;
    private final EventFeed feed = new EventFeed();
    private boolean closed;

    private EventBus(EmbeddedKafka broker, OutboxRelay relay, KafkaAccess access) {
        this.broker = broker;
        this.relay = relay;
        this.access = access;
        relay.feed(feed);
    }

    /**
     * Starts the bus. {@code kafka} is {@value #EMBEDDED} for a single-node broker under {@code
     * dataDir/kafka}, or {@code host:port[,host:port...]} of an external cluster, which need not be
     * reachable yet: events wait in the outbox until it is.
     */
    public static EventBus start(Repository repo, Path dataDir, String kafka) {
        return start(repo, dataDir, kafka, new CoordinatorMetrics());
    }

    /** As {@link #start(Repository, Path, String)}, counting published events and failed attempts in {@code metrics}. */
    public static EventBus start(Repository repo, Path dataDir, String kafka, CoordinatorMetrics metrics) {
        return start(repo, dataDir, kafka, null, metrics);
    }

    /**
     * As {@link #start(Repository, Path, String, CoordinatorMetrics)}; for an external cluster,
     * {@code clientConfig} (may be null) is a Kafka client properties file with its security
     * settings (SASL, TLS). The embedded broker always uses the credential it generated.
     */
    public static EventBus start(Repository repo, Path dataDir, String kafka, Path clientConfig, CoordinatorMetrics metrics) {
        Objects.requireNonNull(repo, "repo");
        Objects.requireNonNull(metrics, "metrics");
        Objects.requireNonNull(kafka, "kafka");
        EmbeddedKafka broker = null;
        KafkaAccess access;
        if (EMBEDDED.equals(kafka)) {
            if (clientConfig != null) {
                throw new InvalidInputException("--kafka-config " + clientConfig + ": only for an external cluster (--kafka HOST:PORT); "
                        + "the embedded broker's credential is in " + dataDir.resolve("kafka").resolve(EmbeddedKafka.CLIENT_CONFIG));
            }
            broker = EmbeddedKafka.start(dataDir.resolve("kafka"));
            access = broker.access();
        } else if (HOST_PORT.matcher(kafka).matches()) {
            access = clientConfig == null ? KafkaAccess.unauthenticated(kafka) : KafkaAccess.withConfigFile(kafka, clientConfig);
        } else {
            throw new InvalidInputException("--kafka '" + kafka + "': expected HOST:PORT[,HOST:PORT...] or '" + EMBEDDED + "'");
        }
        OutboxRelay relay = new OutboxRelay(repo, access, metrics);
        if (broker != null) {
            // The embedded broker is up: create the topics now, so watchers can subscribe at once.
            try {
                relay.ensureTopics();
            } catch (Exception e) {
                broker.close();
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                throw new MeritException("creating topics on the embedded Kafka broker: " + e.getMessage(), e);
            }
        }
        relay.start();
        return new EventBus(broker, relay, access);
    }

    /** Where clients reach the bus's Kafka ({@code bootstrap.servers}). */
    public String bootstrapServers() {
        return access.bootstrapServers();
    }

    /** The address and the credential a Kafka client of this bus needs. */
    public KafkaAccess kafkaAccess() {
        return access;
    }

    /** The events as they are published, for in-process subscribers. */
    public EventFeed feed() {
        return feed;
    }

    /** Asks the relay to publish now; call after a transaction that added events. Never blocks. */
    public void wakeRelay() {
        relay.wake();
    }

    /** Events published since this bus started. */
    public long publishedCount() {
        return relay.published();
    }

    /** Pending events found already published by an earlier attempt and dropped without a second send. */
    public long skippedAsPublishedCount() {
        return relay.skippedAsPublished();
    }

    /**
     * Stops the relay (within seconds even if Kafka is down; unpublished events stay in the outbox),
     * then the broker. Close the bus before the repository: the relay reads and writes the outbox.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            relay.close();
        } finally {
            if (broker != null) {
                broker.close();
            }
        }
    }
}
