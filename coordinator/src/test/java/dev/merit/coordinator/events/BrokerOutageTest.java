package dev.merit.coordinator.events;

import static dev.merit.coordinator.events.KafkaTestSupport.await;
import static dev.merit.coordinator.events.KafkaTestSupport.pending;
import static dev.merit.coordinator.events.KafkaTestSupport.readAll;
import static dev.merit.coordinator.events.KafkaTestSupport.sequence;
import static dev.merit.coordinator.events.KafkaTestSupport.text;
import static dev.merit.coordinator.events.KafkaTestSupport.writeEvent;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.metrics.CoordinatorMetrics;
import dev.merit.store.Repository;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Events written while the broker is down wait in the outbox and reach Kafka once, after it is back. */
class BrokerOutageTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void eventsWrittenWhileTheBrokerIsDownArriveExactlyOnceAfterItRestarts() {
        Path kafkaDir = dir.resolve("kafka");
        EmbeddedKafka broker = EmbeddedKafka.start(kafkaDir);
        String bootstrap = broker.bootstrapServers();
        List<String> expectedProposals = new ArrayList<>();
        List<String> expectedVersions = new ArrayList<>();
        try (Repository repo = Repository.init(dir.resolve("repo"));
             EventBus bus = EventBus.start(repo, dir, bootstrap, kafkaDir.resolve(EmbeddedKafka.CLIENT_CONFIG), new CoordinatorMetrics())) {
            for (int i = 0; i < 3; i++) {
                writeEvent(repo, Topics.PROPOSALS, "p" + i, "{\"n\":" + i + "}");
                expectedProposals.add("p" + i);
            }
            bus.wakeRelay();
            await("the first events to be published", WAIT, () -> pending(repo) == 0);

            broker.close();
            // Pushes go on while Kafka is away: each transaction commits, its events queue up.
            for (int i = 3; i < 40; i++) {
                writeEvent(repo, Topics.PROPOSALS, "p" + i, "{\"n\":" + i + "}");
                expectedProposals.add("p" + i);
                if (i % 5 == 0) {
                    writeEvent(repo, Topics.VERSIONS, "main", "{\"v\":" + i + "}");
                    expectedVersions.add("{\"v\":" + i + "}");
                }
                bus.wakeRelay();
            }
            assertEquals(37 + expectedVersions.size(), pending(repo), "nothing can be published while the broker is down");

            broker = EmbeddedKafka.start(kafkaDir);
            assertEquals(bootstrap, broker.bootstrapServers(), "a restart on the same directory reuses the ports");
            bus.wakeRelay();
            await("the queued events to be published", WAIT, () -> pending(repo) == 0);
            assertTrue(bus.publishedCount() >= 40 + expectedVersions.size());

            List<ConsumerRecord<String, byte[]>> proposals = readAll(broker.access(), Topics.PROPOSALS);
            assertEquals(expectedProposals, proposals.stream().map(ConsumerRecord::key).toList(),
                    "every proposal event exactly once, in order");
            for (int i = 0; i < proposals.size(); i++) {
                assertEquals("{\"n\":" + i + "}", text(proposals.get(i)));
            }
            List<ConsumerRecord<String, byte[]>> versions = readAll(broker.access(), Topics.VERSIONS);
            assertEquals(expectedVersions, versions.stream().map(KafkaTestSupport::text).toList());
            List<Long> seqs = new ArrayList<>();
            proposals.forEach(r -> seqs.add(sequence(r)));
            versions.forEach(r -> seqs.add(sequence(r)));
            assertEquals(seqs.size(), seqs.stream().distinct().count(), "each record carries its own outbox sequence");
            assertTrue(seqs.stream().allMatch(s -> s > 0));
        } finally {
            broker.close();
        }
    }
}
