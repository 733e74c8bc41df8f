package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.merit.coordinator.events.KafkaAccess;
import dev.merit.coordinator.events.ProposalEvent;
import dev.merit.coordinator.events.Topics;
import dev.merit.coordinator.events.VersionEvent;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.proto.v1.Proposal;
import dev.merit.proto.v1.ProposalStatus;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/events.md promises a "merged" proposal event when a merge takes a proposal into a version.
 * Before the fix none was ever written: this test found only "accepted" events in Kafka.
 */
class MergedEventTest {

    @TempDir
    Path dir;

    @Test
    void eachMergedProposalGetsAMergedEventWrittenWithItsVersion() throws Exception {
        PolicyConfig auto = PolicyConfig.defaults().withPolicy(MergePolicy.AUTO);
        try (LoopbackCoordinator c = new LoopbackCoordinator(dir, b -> b.policy(auto).kafka("embedded"))) {
            Proposal a = c.push("alice", c.v0, new long[] {1, 2}, new float[] {0.5f, 0.5f}, "a");
            Proposal b = c.push("bob", c.head(), new long[] {9}, new float[] {-0.5f}, "b");
            assertEquals(ProposalStatus.MERGED, a.getStatus());
            assertEquals(ProposalStatus.MERGED, b.getStatus());
            KafkaAccess kafka = c.coord.events().orElseThrow().kafkaAccess();

            List<ConsumerRecord<String, byte[]>> proposals = readAtLeast(kafka, Topics.PROPOSALS, 4);
            List<ConsumerRecord<String, byte[]>> versions = readAtLeast(kafka, Topics.VERSIONS, 3);
            for (Proposal p : List.of(a, b)) {
                List<ConsumerRecord<String, byte[]>> mine = proposals.stream().filter(r -> r.key().equals(p.getId())).toList();
                assertEquals(List.of(ProposalEvent.Status.ACCEPTED, ProposalEvent.Status.MERGED),
                        mine.stream().map(r -> ProposalEvent.parse(r.value()).status()).toList(), "events of " + p.getId());
                ConsumerRecord<String, byte[]> merged = mine.get(1);
                // The version that took it in was written in the same batch: adjacent outbox sequence numbers.
                ConsumerRecord<String, byte[]> version = versions.stream()
                        .filter(r -> VersionEvent.parse(r.value()).proposals().contains(p.getId())).findFirst().orElseThrow();
                assertEquals(p.getMergedIn(), VersionEvent.parse(version.value()).commit());
                assertEquals(1, Math.abs(sequence(merged) - sequence(version)),
                        "merged event " + sequence(merged) + " and version event " + sequence(version) + " come from one batch");
            }
            assertEquals(4, proposals.size(), "each event once");
        }
    }

    private static long sequence(ConsumerRecord<?, ?> r) {
        return ByteBuffer.wrap(r.headers().lastHeader(Topics.SEQUENCE_HEADER).value()).getLong();
    }

    /** Everything in {@code topic}, waiting (bounded) until at least {@code n} records arrived. */
    static List<ConsumerRecord<String, byte[]>> readAtLeast(KafkaAccess kafka, String topic, int n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (true) {
            List<ConsumerRecord<String, byte[]>> all = readAll(kafka, topic);
            if (all.size() >= n) {
                return all;
            }
            if (System.nanoTime() > deadline) {
                fail("only " + all.size() + " of " + n + " records reached " + topic);
            }
            Thread.sleep(200);
        }
    }

    static List<ConsumerRecord<String, byte[]>> readAll(KafkaAccess kafka, String topic) {
        Properties p = kafka.clientProperties();
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (var consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(topic, Duration.ofSeconds(20)).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> end = consumer.endOffsets(parts, Duration.ofSeconds(20));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                assertTrue(System.nanoTime() < deadline, "could not read " + topic + " up to " + end);
                consumer.poll(Duration.ofMillis(100)).forEach(out::add);
            }
        }
        return out;
    }
}
