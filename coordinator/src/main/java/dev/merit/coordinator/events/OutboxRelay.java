package dev.merit.coordinator.events;

import dev.merit.coordinator.Json;
import dev.merit.coordinator.metrics.CoordinatorMetrics;
import dev.merit.store.Outbox;
import dev.merit.store.Repository;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves outbox events into Kafka, each exactly once in its topic.
 *
 * <p>One thread repeats: read the oldest pending events, send them with an idempotent
 * {@code acks=all} producer, and remove from the outbox exactly those whose send was
 * acknowledged. An event is therefore never lost; what can happen is that an event reached the
 * topic but was not removed (the acknowledgement was lost, the send timed out after the broker had
 * written it, or the process died in between). So before sending after a start or a failure, the
 * relay reads the tail of the topics and drops pending events that are already there. An event is
 * identified by its outbox sequence number (in the {@link Topics#SEQUENCE_HEADER} header) together
 * with its topic, key and value: sequence numbers alone are not enough, because transactions can
 * become visible out of sequence order and the repository may number from 1 again once its
 * outbox has been emptied, so "skip everything at or below the last published number" could
 * drop events.
 *
 * <p>Only the last attempt's events can be in the topic unremoved, so the tail read looks at the
 * last {@code 2 x BATCH} records of each partition. This assumes the relay is the only writer of
 * these topics; another producer interleaving many records could hide a duplicate from it.
 */
final class OutboxRelay implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(OutboxRelay.class);

    static final int BATCH = 256;
    /** Records namespace for events Kafka can never take (see {@link #setAside}). */
    static final String SET_ASIDE = "outbox-unpublishable";
    private static final int TAIL_WINDOW = 2 * BATCH;
    private static final Duration IDLE_POLL = Duration.ofSeconds(1);
    private static final Duration MIN_BACKOFF = Duration.ofMillis(100);
    private static final Duration MAX_BACKOFF = Duration.ofSeconds(2);
    static final Duration DEFAULT_CLIENT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration STOP_GRACE = Duration.ofSeconds(2);

    private final Repository repo;
    private final KafkaAccess access;
    private final Semaphore wake = new Semaphore(0);
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong skipped = new AtomicLong();
    private final AtomicLong failures = new AtomicLong();
    private final Duration clientTimeout;
    private final CoordinatorMetrics metrics;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile boolean topicsReady;
    private volatile EventFeed feed = new EventFeed();

    OutboxRelay(Repository repo, KafkaAccess access, CoordinatorMetrics metrics) {
        this(repo, access, metrics, DEFAULT_CLIENT_TIMEOUT);
    }

    /** {@code clientTimeout} bounds each Kafka request, metadata wait and (twice over) each delivery. */
    OutboxRelay(Repository repo, KafkaAccess access, CoordinatorMetrics metrics, Duration clientTimeout) {
        this.repo = repo;
        this.access = access;
        this.metrics = metrics;
        this.clientTimeout = clientTimeout;
        this.thread = Thread.ofPlatform().name("merit-outbox-relay").daemon().unstarted(this::run);
    }

    /** Where acknowledged events are handed after they leave the outbox. */
    void feed(EventFeed f) {
        this.feed = f;
    }

    void start() {
        thread.start();
    }

    void wake() {
        wake.release();
    }

    /** Events this relay has written to Kafka. */
    long published() {
        return published.get();
    }

    /** Pending events found already in Kafka (from an earlier attempt) and removed without sending. */
    long skippedAsPublished() {
        return skipped.get();
    }

    /** Attempts that failed (Kafka unreachable, a send not acknowledged in time). */
    long failures() {
        return failures.get();
    }

    /** Creates the topics that do not exist yet (one partition each, the cluster's replication factor). */
    void ensureTopics() throws ExecutionException, InterruptedException, TimeoutException {
        if (topicsReady) {
            return;
        }
        Properties p = access.clientProperties();
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) clientTimeout.toMillis());
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) clientTimeout.toMillis());
        Admin admin = Admin.create(p);
        try {
            // One partition per topic keeps each topic in publication order for watchers.
            List<NewTopic> topics = Topics.ALL.stream()
                    .map(t -> new NewTopic(t, java.util.Optional.of(1), java.util.Optional.empty()))
                    .toList();
            for (var f : admin.createTopics(topics).values().values()) {
                try {
                    f.get(clientTimeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
        } finally {
            // Nothing is left to wait for once the futures are done or given up on; close() must not linger.
            admin.close(Duration.ZERO);
        }
        topicsReady = true;
    }

    private void run() {
        KafkaProducer<String, byte[]> producer = null;
        boolean reconcile = true;
        Duration backoff = MIN_BACKOFF;
        boolean failing = false;
        while (running) {
            try {
                List<Outbox.Event> batch = repo.outbox().pending(BATCH);
                if (batch.isEmpty()) {
                    awaitWake(IDLE_POLL);
                    continue;
                }
                ensureTopics();
                if (reconcile) {
                    batch = dropPublished(batch);
                    reconcile = false;
                    if (batch.isEmpty()) {
                        continue;
                    }
                }
                if (producer == null) {
                    producer = newProducer();
                }
                send(producer, batch);
                if (failing) {
                    LOG.warn("outbox relay: Kafka at {} is reachable again; publishing resumed", access.bootstrapServers());
                    failing = false;
                }
                backoff = MIN_BACKOFF;
            } catch (Exception e) {
                if (!running) {
                    break;
                }
                failures.incrementAndGet();
                metrics.eventRelayFailed();
                if (!failing) {
                    LOG.warn("outbox relay: cannot publish to Kafka at {} ({}); events stay in the outbox and are retried",
                            access.bootstrapServers(), describe(e));
                    failing = true;
                }
                // An unacknowledged send may still have reached the topic: check before resending.
                reconcile = true;
                if (producer != null) {
                    closeQuietly(producer, clientTimeout);
                    producer = null;
                }
                awaitWake(backoff);
                backoff = backoff.multipliedBy(2).compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : backoff.multipliedBy(2);
            }
        }
        if (producer != null) {
            closeQuietly(producer, STOP_GRACE);
        }
    }

    /** Sends a batch and removes exactly the acknowledged events; throws if any send failed. */
    private void send(KafkaProducer<String, byte[]> producer, List<Outbox.Event> batch) throws Exception {
        List<Future<RecordMetadata>> futures = new ArrayList<>(batch.size());
        for (Outbox.Event e : batch) {
            ProducerRecord<String, byte[]> r = new ProducerRecord<>(e.topic(), e.key(), e.value());
            r.headers().add(Topics.SEQUENCE_HEADER, ByteBuffer.allocate(Long.BYTES).putLong(e.sequence()).array());
            futures.add(producer.send(r));
        }
        producer.flush();
        List<Outbox.Event> acked = new ArrayList<>(batch.size());
        Exception failure = null;
        for (int i = 0; i < batch.size(); i++) {
            try {
                futures.get(i).get();
                acked.add(batch.get(i));
            } catch (ExecutionException ex) {
                if (isUnpublishable(ex.getCause())) {
                    setAside(batch.get(i), ex.getCause());
                } else if (failure == null) {
                    failure = ex.getCause() instanceof Exception c ? c : ex;
                }
            }
        }
        if (!acked.isEmpty()) {
            repo.outbox().remove(acked);
            published.addAndGet(acked.size());
            metrics.eventsPublished(acked.size());
            feed.published(acked);
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * Errors that retrying can never cure for this event (it is bigger than Kafka accepts, or its
     * topic name is invalid). Errors about the cluster (unreachable, not authorized) are not here:
     * for those the events wait.
     */
    private static boolean isUnpublishable(Throwable t) {
        return t instanceof RecordTooLargeException || t instanceof InvalidTopicException;
    }

    /**
     * Moves an event that can never be published out of the outbox, so it does not hold back the
     * events behind it, into the {@value #SET_ASIDE} records, where an operator can find it.
     */
    /** An event Kafka refused for good, as kept in the {@value #SET_ASIDE} records. */
    record SetAside(long sequence, String topic, String key, String error, String valueBase64) {
        static final int FORMAT = 1;
    }

    private void setAside(Outbox.Event e, Throwable why) {
        SetAside o = new SetAside(e.sequence(), e.topic(), e.key(), why.toString(),
                java.util.Base64.getEncoder().encodeToString(e.value()));
        try (var tx = repo.newTransaction()) {
            tx.putRecord(SET_ASIDE, "%020d".formatted(e.sequence()), Json.write(o, SetAside.FORMAT));
            tx.commit();
        }
        repo.outbox().remove(List.of(e));
        LOG.error("outbox relay: event {} for {} (key {}) cannot be published and was set aside in records '{}': {}",
                e.sequence(), e.topic(), e.key(), SET_ASIDE, why.toString());
    }

    /** Removes the events of {@code batch} already in their topics; returns the others. */
    private List<Outbox.Event> dropPublished(List<Outbox.Event> batch) throws TimeoutException {
        Set<String> topics = new LinkedHashSet<>();
        batch.forEach(e -> topics.add(e.topic()));
        Set<Identity> inKafka = tail(topics);
        List<Outbox.Event> already = new ArrayList<>();
        List<Outbox.Event> rest = new ArrayList<>();
        for (Outbox.Event e : batch) {
            (inKafka.contains(Identity.of(e)) ? already : rest).add(e);
        }
        if (!already.isEmpty()) {
            repo.outbox().remove(already);
            skipped.addAndGet(already.size());
            LOG.info("outbox relay: {} event(s) were already in Kafka; removed without sending again", already.size());
        }
        return rest;
    }

    /** The identities of the last {@link #TAIL_WINDOW} records of every partition of {@code topics}. */
    private Set<Identity> tail(Set<String> topics) throws TimeoutException {
        Properties p = access.clientProperties();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_uncommitted");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) clientTimeout.toMillis());
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) clientTimeout.toMillis());
        Set<Identity> out = new HashSet<>();
        try (var consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = new ArrayList<>();
            for (String t : topics) {
                List<PartitionInfo> infos = consumer.partitionsFor(t, clientTimeout);
                if (infos != null) {
                    infos.forEach(i -> parts.add(new TopicPartition(i.topic(), i.partition())));
                }
            }
            if (parts.isEmpty()) {
                return out;
            }
            Map<TopicPartition, Long> end = consumer.endOffsets(parts, clientTimeout);
            Map<TopicPartition, Long> begin = consumer.beginningOffsets(parts, clientTimeout);
            Map<TopicPartition, Long> remaining = new HashMap<>();
            consumer.assign(parts);
            for (TopicPartition tp : parts) {
                long from = Math.max(begin.get(tp), end.get(tp) - TAIL_WINDOW);
                consumer.seek(tp, from);
                if (end.get(tp) > from) {
                    remaining.put(tp, end.get(tp));
                }
            }
            long deadline = System.nanoTime() + clientTimeout.toNanos();
            while (!remaining.isEmpty()) {
                if (System.nanoTime() > deadline) {
                    throw new TimeoutException("reading the tail of " + remaining.keySet() + " took longer than " + clientTimeout);
                }
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    Identity id = Identity.of(r);
                    if (id != null) {
                        out.add(id);
                    }
                }
                remaining.entrySet().removeIf(en -> consumer.position(en.getKey(), clientTimeout) >= en.getValue());
            }
        }
        return out;
    }

    private KafkaProducer<String, byte[]> newProducer() {
        Properties p = access.clientProperties();
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        // Bounded waits: a send to a dead broker fails within seconds, so the loop backs off, the
        // outbox keeps the event, and close() never hangs on retries.
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, (int) clientTimeout.toMillis());
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) clientTimeout.toMillis());
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) clientTimeout.toMillis() * 2);
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }

    private void awaitWake(Duration d) {
        try {
            if (wake.tryAcquire(d.toMillis(), TimeUnit.MILLISECONDS)) {
                wake.drainPermits();
            }
        } catch (InterruptedException e) {
            // close() interrupts only to cut a wait short; the loop checks running
        }
    }

    private static String describe(Exception e) {
        Throwable t = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    private static void closeQuietly(KafkaProducer<?, ?> producer, Duration timeout) {
        try {
            producer.close(timeout);
        } catch (RuntimeException e) {
            LOG.debug("closing the relay's producer", e);
        }
    }

    /** Stops the loop; a send in progress gets {@link #STOP_GRACE} to finish, its events stay pending otherwise. */
    @Override
    public void close() {
        running = false;
        wake.release();
        try {
            thread.join(STOP_GRACE.toMillis());
            if (thread.isAlive()) {
                thread.interrupt();
                thread.join(clientTimeout.toMillis() * 3);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** What makes an event the same event: sequence, topic, key and value. */
    record Identity(long sequence, String topic, String key, ByteBuffer value) {

        static Identity of(Outbox.Event e) {
            return new Identity(e.sequence(), e.topic(), e.key(), ByteBuffer.wrap(e.value()));
        }

        static Identity of(ConsumerRecord<byte[], byte[]> r) {
            Header h = r.headers().lastHeader(Topics.SEQUENCE_HEADER);
            if (h == null || h.value() == null || h.value().length != Long.BYTES || r.key() == null) {
                return null;
            }
            return new Identity(ByteBuffer.wrap(h.value()).getLong(), r.topic(),
                    new String(r.key(), java.nio.charset.StandardCharsets.UTF_8),
                    ByteBuffer.wrap(r.value() == null ? new byte[0] : r.value()));
        }
    }
}
