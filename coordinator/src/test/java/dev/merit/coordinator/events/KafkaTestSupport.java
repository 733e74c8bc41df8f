package dev.merit.coordinator.events;

import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;

/** Shared by the event tests: plain consumers, outbox writes as the coordinator makes them, bounded waits. */
final class KafkaTestSupport {

    private KafkaTestSupport() {}

    /** Everything in {@code topic} now, read with a plain consumer (no group, read_uncommitted). */
    static List<ConsumerRecord<String, byte[]>> readAll(KafkaAccess kafka, String topic) {
        Properties p = kafka.clientProperties();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (var c = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> end = c.endOffsets(parts, Duration.ofSeconds(10));
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (parts.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
                if (System.nanoTime() > deadline) {
                    fail("could not read " + topic + " up to " + end);
                }
                c.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        return out;
    }

    static long sequence(ConsumerRecord<?, ?> r) {
        Header h = r.headers().lastHeader(Topics.SEQUENCE_HEADER);
        return h == null ? -1 : ByteBuffer.wrap(h.value()).getLong();
    }

    static String text(ConsumerRecord<?, byte[]> r) {
        return new String(r.value(), StandardCharsets.UTF_8);
    }

    /** One transaction with a record and an event, as a push that is accepted or rejected writes them. */
    static void writeEvent(Repository repo, String topic, String key, String value) {
        try (Transaction tx = repo.newTransaction()) {
            tx.putRecord("test", key, value.getBytes(StandardCharsets.UTF_8))
                    .addEvent(topic, key, value.getBytes(StandardCharsets.UTF_8));
            tx.commit();
        }
    }

    static int pending(Repository repo) {
        return repo.outbox().pending(Integer.MAX_VALUE).size();
    }

    /** Polls {@code condition} until it holds; fails after {@code max} (a liveness bound, not a timing claim). */
    static void await(String what, Duration max, BooleanSupplier condition) {
        long deadline = System.nanoTime() + max.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("gave up waiting (" + max + ") for: " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted waiting for " + what);
            }
        }
    }
}
