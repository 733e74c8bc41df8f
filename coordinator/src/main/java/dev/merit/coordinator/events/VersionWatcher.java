package dev.merit.coordinator.events;

import dev.merit.error.MeritException;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Follows {@link Topics#VERSIONS}: a Kafka consumer (no consumer group, so any number of watchers
 * read independently) that hands each new version, parsed, to a callback on its own thread.
 * Records that are not valid version events are skipped with a warning and counted.
 *
 * <pre>{@code
 * try (var w = VersionWatcher.start(bus.kafkaAccess(), VersionWatcher.Position.latest(),
 *         v -> System.out.println(v.branch() + " -> " + v.commit()))) { ... }
 * }</pre>
 */
public final class VersionWatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(VersionWatcher.class);
    private static final Duration POLL = Duration.ofMillis(200);
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(5);
    static final long START_WAIT_SECONDS = 10;
    private static final Duration START_WAIT = Duration.ofSeconds(START_WAIT_SECONDS);

    /** Where a watcher starts reading. */
    public sealed interface Position {
        /** Every version still in the topic. */
        static Position earliest() {
            return new Earliest();
        }

        /** Only versions published after {@link #start} returns. */
        static Position latest() {
            return new Latest();
        }

        /** From this offset of each partition (the topic has one): resumes after the last offset seen. */
        static Position offset(long offset) {
            if (offset < 0) {
                throw new IllegalArgumentException("offset " + offset + " < 0");
            }
            return new Offset(offset);
        }

        /** Versions published at or after {@code time}. */
        static Position since(Instant time) {
            return new Since(Objects.requireNonNull(time));
        }
    }

    record Earliest() implements Position {}

    record Latest() implements Position {}

    record Offset(long offset) implements Position {}

    record Since(Instant time) implements Position {}

    private final String bootstrap;
    private final Position from;
    private final Consumer<VersionEvent> callback;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread thread;
    private final CountDownLatch positioned = new CountDownLatch(1);
    private final Map<Integer, Long> next = new ConcurrentHashMap<>();
    private volatile boolean running = true;
    private volatile long malformed;

    private VersionWatcher(KafkaAccess access, Position from, Consumer<VersionEvent> callback) {
        this.bootstrap = access.bootstrapServers();
        this.from = from;
        this.callback = callback;
        Properties p = access.clientProperties();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) CLIENT_TIMEOUT.toMillis());
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) CLIENT_TIMEOUT.toMillis());
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.thread = Thread.ofPlatform().name("merit-version-watcher").daemon().unstarted(this::run);
    }

    /**
     * Starts watching. Returns once the start position is fixed (so with {@link Position#latest()}
     * every version published afterwards is delivered), or after {@value #START_WAIT_SECONDS} s if
     * Kafka or the topic is not there yet; the watcher then keeps trying and starts at the
     * topic's beginning when it appears.
     */
    public static VersionWatcher start(KafkaAccess kafka, Position from, Consumer<VersionEvent> onVersion) {
        Objects.requireNonNull(kafka, "kafka");
        Objects.requireNonNull(from, "from");
        Objects.requireNonNull(onVersion, "onVersion");
        VersionWatcher w = new VersionWatcher(kafka, from, onVersion);
        w.thread.start();
        try {
            w.positioned.await(START_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            w.close();
            Thread.currentThread().interrupt();
            throw new MeritException("interrupted while starting to watch " + Topics.VERSIONS, e);
        }
        return w;
    }

    /** Per partition, the offset of the next record to read: pass to {@link Position#offset} to resume. */
    public Map<Integer, Long> positions() {
        return Map.copyOf(next);
    }

    /** Records skipped because they were not valid version events. */
    public long malformedCount() {
        return malformed;
    }

    private void run() {
        try {
            boolean waitedForTopic = false;
            while (running && consumer.assignment().isEmpty()) {
                List<PartitionInfo> parts = partitions();
                if (parts.isEmpty()) {
                    if (!waitedForTopic) {
                        LOG.warn("watcher: topic {} not found at {} yet; waiting for it", Topics.VERSIONS, bootstrap);
                        waitedForTopic = true;
                    }
                    positioned.countDown();
                    Thread.sleep(500);
                    continue;
                }
                assign(parts.stream().map(i -> new TopicPartition(i.topic(), i.partition())).toList(),
                        waitedForTopic ? Position.earliest() : from);
                positioned.countDown();
            }
            while (running) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(POLL)) {
                    next.put(r.partition(), r.offset() + 1);
                    deliver(r);
                }
            }
        } catch (WakeupException e) {
            // close() woke the consumer; running is false
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            if (running) {
                LOG.error("watcher of {} at {} stopped: {}", Topics.VERSIONS, bootstrap, e.toString());
            }
        } finally {
            positioned.countDown();
            consumer.close(CloseOptions.timeout(CLIENT_TIMEOUT));
        }
    }

    private List<PartitionInfo> partitions() {
        try {
            List<PartitionInfo> p = consumer.partitionsFor(Topics.VERSIONS, CLIENT_TIMEOUT);
            return p == null ? List.of() : p;
        } catch (org.apache.kafka.common.errors.TimeoutException e) {
            return List.of();
        }
    }

    private void assign(List<TopicPartition> parts, Position pos) {
        consumer.assign(parts);
        switch (pos) {
            case Earliest e -> consumer.seekToBeginning(parts);
            case Latest l -> consumer.seekToEnd(parts);
            case Offset o -> parts.forEach(tp -> consumer.seek(tp, o.offset()));
            case Since s -> {
                Map<TopicPartition, Long> query = new HashMap<>();
                parts.forEach(tp -> query.put(tp, s.time().toEpochMilli()));
                Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query, CLIENT_TIMEOUT);
                for (TopicPartition tp : parts) {
                    OffsetAndTimestamp o = found.get(tp);
                    if (o == null) {
                        consumer.seekToEnd(List.of(tp));
                    } else {
                        consumer.seek(tp, o.offset());
                    }
                }
            }
        }
        // Seeks are lazy: resolve them now, so "latest" means the end as of start().
        parts.forEach(tp -> next.put(tp.partition(), consumer.position(tp, CLIENT_TIMEOUT)));
    }

    private void deliver(ConsumerRecord<String, byte[]> r) {
        VersionEvent v;
        try {
            v = VersionEvent.parse(r.value() == null ? new byte[0] : r.value());
        } catch (RuntimeException e) {
            malformed++;
            LOG.warn("watcher: skipping {}-{}@{}: {}", r.topic(), r.partition(), r.offset(), e.getMessage());
            return;
        }
        try {
            callback.accept(v);
        } catch (RuntimeException e) {
            LOG.warn("watcher: callback failed on version {} of {}: {}", v.commit(), v.branch(), e.toString());
        }
    }

    /** Stops the consumer thread and waits for it. */
    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(CLIENT_TIMEOUT.toMillis() * 2);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
