package dev.merit.coordinator.events;

import static dev.merit.coordinator.events.KafkaTestSupport.await;
import static dev.merit.coordinator.events.KafkaTestSupport.pending;
import static dev.merit.coordinator.events.KafkaTestSupport.readAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded bus end to end: broker under the data dir, topics, relay, watcher, restart. */
class EventBusTest {

    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    private static VersionEvent version(String commit, String parent, Instant t) {
        return new VersionEvent("main", commit, List.of(parent), List.of("p-" + commit), "fisher", t);
    }

    @Test
    void anEmbeddedBusPublishesProposalsAndVersionsToWatchersAndKeepsThemAcrossARestart() throws Exception {
        Path data = dir.resolve("data");
        Instant t0 = Instant.parse("2026-01-02T03:04:05.123Z");
        ProposalEvent accepted = new ProposalEvent("p-1", "main", "alice", ProposalEvent.Status.ACCEPTED,
                List.of(), "sha256:aa", "c0", t0);
        VersionEvent v1 = version("c1", "c0", t0.plusSeconds(1));
        VersionEvent v2 = version("c2", "c1", t0.plusSeconds(2));
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            List<VersionEvent> seen = new CopyOnWriteArrayList<>();
            try (EventBus bus = EventBus.start(repo, data, EventBus.EMBEDDED)) {
                assertTrue(Files.exists(data.resolve("kafka").resolve("meta.properties")), "the broker's log lives under the data dir");
                assertTrue(bus.bootstrapServers().startsWith("127.0.0.1:"));
                try (VersionWatcher watcher = VersionWatcher.start(bus.kafkaAccess(), VersionWatcher.Position.latest(), seen::add)) {
                    // What a push that is accepted and merged writes: its record and both events, in one batch.
                    try (Transaction tx = repo.newTransaction()) {
                        tx.putRecord("proposals", accepted.proposalId(), accepted.toJson())
                                .addEvent(Topics.PROPOSALS, accepted.key(), accepted.toJson())
                                .addEvent(Topics.VERSIONS, v1.key(), v1.toJson());
                        tx.commit();
                    }
                    bus.wakeRelay();
                    await("the watcher to see the new version", WAIT, () -> seen.size() == 1);
                    assertEquals(v1, seen.getFirst());
                    assertEquals(1L, watcher.positions().get(0), "next offset after the first version");
                }
                List<ConsumerRecord<String, byte[]>> proposals = readAll(bus.kafkaAccess(), Topics.PROPOSALS);
                assertEquals(1, proposals.size());
                assertEquals("p-1", proposals.getFirst().key());
                assertEquals(accepted, ProposalEvent.parse(proposals.getFirst().value()));
            }
            // A coordinator restart: same data dir, same broker data; events queued while it was down go out.
            try (Transaction tx = repo.newTransaction()) {
                tx.addEvent(Topics.VERSIONS, v2.key(), v2.toJson());
                tx.commit();
            }
            try (EventBus bus = EventBus.start(repo, data, EventBus.EMBEDDED)) {
                await("the queued version to be published", WAIT, () -> pending(repo) == 0);
                List<VersionEvent> all = new CopyOnWriteArrayList<>();
                try (VersionWatcher _ = VersionWatcher.start(bus.kafkaAccess(), VersionWatcher.Position.earliest(), all::add)) {
                    await("both versions from the beginning", WAIT, () -> all.size() == 2);
                }
                assertEquals(List.of(v1, v2), all);
                List<VersionEvent> resumed = new CopyOnWriteArrayList<>();
                try (VersionWatcher _ = VersionWatcher.start(bus.kafkaAccess(), VersionWatcher.Position.offset(1), resumed::add)) {
                    await("the version after offset 1", WAIT, () -> resumed.size() == 1);
                }
                assertEquals(List.of(v2), resumed);
                List<VersionEvent> since = new CopyOnWriteArrayList<>();
                // Record timestamps are the producer's clock, so anything from long ago selects both.
                try (VersionWatcher _ = VersionWatcher.start(bus.kafkaAccess(),
                        VersionWatcher.Position.since(Instant.EPOCH), since::add)) {
                    await("versions since the epoch", WAIT, () -> since.size() == 2);
                }
                assertEquals(List.of(v1, v2), since);
            }
        }
    }

    @Test
    void aWatcherSkipsRecordsThatAreNotVersionEventsAndKeepsGoing() {
        try (Repository repo = Repository.init(dir.resolve("repo"));
             EventBus bus = EventBus.start(repo, dir.resolve("data"), EventBus.EMBEDDED)) {
            List<VersionEvent> seen = new CopyOnWriteArrayList<>();
            try (VersionWatcher w = VersionWatcher.start(bus.kafkaAccess(), VersionWatcher.Position.earliest(), seen::add)) {
                VersionEvent good = version("c9", "c8", Instant.parse("2026-05-06T07:08:09Z"));
                try (Transaction tx = repo.newTransaction()) {
                    tx.addEvent(Topics.VERSIONS, "main", "not json".getBytes())
                            .addEvent(Topics.VERSIONS, "main", "{\"branch\":\"main\"}".getBytes())
                            .addEvent(Topics.VERSIONS, good.key(), good.toJson());
                    tx.commit();
                }
                bus.wakeRelay();
                await("the valid version", WAIT, () -> seen.size() == 1);
                assertEquals(good, seen.getFirst());
                assertEquals(2, w.malformedCount());
            }
        }
    }

    @Test
    void closingWhileAnExternalClusterIsUnreachableReturnsAndKeepsTheEvents() throws Exception {
        int deadPort;
        try (var s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            deadPort = s.getLocalPort();
        }
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            EventBus bus = EventBus.start(repo, dir, "127.0.0.1:" + deadPort);
            List<String> keys = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                KafkaTestSupport.writeEvent(repo, Topics.PROPOSALS, "k" + i, "{}");
                keys.add("k" + i);
            }
            bus.wakeRelay();
            bus.close();
            assertEquals(keys, repo.outbox().pending(10).stream().map(e -> e.key()).toList());
            assertEquals(0, bus.publishedCount());
        }
    }

    @Test
    void aKafkaAddressThatIsNeitherEmbeddedNorHostPortIsRefused() {
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            var e = assertThrows(InvalidInputException.class, () -> EventBus.start(repo, dir, "localhost"));
            assertTrue(e.getMessage().contains("'localhost'"), e.getMessage());
        }
    }
}
