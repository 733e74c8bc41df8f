package dev.merit.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.safetensors.SafetensorsFile;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TransactionOutboxTest {

    @TempDir
    Path dir;

    @Test
    void recordsAndEventsLandWithTheCommitAndSurviveReopening() {
        Path v0 = TestModels.builder().tensor("w", DType.F32, 10).write(dir.resolve("v0.safetensors"));
        ObjectId id;
        try (Repository repo = Repository.init(dir.resolve("repo")); SafetensorsFile f = SafetensorsFile.open(v0)) {
            try (Transaction tx = repo.newTransaction()) {
                tx.putRecord("tokens", "alice", "maintainer".getBytes()).addEvent("t", "k0", "first".getBytes());
                tx.commit();
            }
            id = repo.commit().setSource(f).setMessage("v0")
                    .alsoWrite((cid, tx) -> tx.putRecord("proposals", "p1", cid.toRaw())
                            .addEvent("merit.versions", "main", cid.name().getBytes(StandardCharsets.US_ASCII)))
                    .call().id();
        }
        try (Repository repo = Repository.open(dir.resolve("repo"))) {
            assertArrayEquals(id.toRaw(), repo.getRecord("proposals", "p1").orElseThrow());
            assertEquals("maintainer", new String(repo.getRecord("tokens", "alice").orElseThrow()));
            List<String> keys = new ArrayList<>();
            repo.scanRecords("tokens", "", (k, v) -> keys.add(k));
            assertEquals(List.of("alice"), keys);

            List<Outbox.Event> events = repo.outbox().pending(10);
            assertEquals(List.of("k0", "main"), events.stream().map(Outbox.Event::key).toList());
            assertEquals(id.name(), new String(events.get(1).value(), StandardCharsets.US_ASCII));
            assertTrue(events.get(0).sequence() < events.get(1).sequence());
            repo.outbox().remove(events.subList(0, 1));
            // New events after a restart continue the sequence.
            try (Transaction tx = repo.newTransaction()) {
                tx.addEvent("t", "k2", new byte[0]);
                tx.commit();
            }
            List<Outbox.Event> left = repo.outbox().pending(10);
            assertEquals(List.of("main", "k2"), left.stream().map(Outbox.Event::key).toList());
            assertTrue(left.get(1).sequence() > left.get(0).sequence());
        }
    }

    @Test
    void sequenceNumbersCarryOnAfterTheOutboxEmptiesAndTheRepositoryReopens() {
        long last;
        try (Repository repo = Repository.init(dir.resolve("repo"))) {
            for (int i = 0; i < 3; i++) {
                try (Transaction tx = repo.newTransaction()) {
                    tx.addEvent("t", "e" + i, new byte[0]);
                    tx.commit();
                }
            }
            List<Outbox.Event> all = repo.outbox().pending(10);
            assertEquals(2, repo.outbox().pending(2).size(), "pending(max) returns at most max");
            last = all.getLast().sequence();
            repo.outbox().remove(all);
            assertTrue(repo.outbox().pending(10).isEmpty());
        }
        try (Repository repo = Repository.open(dir.resolve("repo"))) {
            try (Transaction tx = repo.newTransaction()) {
                tx.addEvent("t", "after", new byte[0]);
                tx.commit();
            }
            assertTrue(repo.outbox().pending(10).getFirst().sequence() > last, "no sequence number is reused");
        }
    }

    @Test
    void aFailedRefUpdateWritesNoneOfTheRows() {
        Path v0 = TestModels.builder().tensor("w", DType.F32, 10).write(dir.resolve("v0.safetensors"));
        try (Repository repo = Repository.init(dir.resolve("repo")); SafetensorsFile f = SafetensorsFile.open(v0)) {
            ObjectId first = repo.commit().setSource(f).setMessage("v0").call().id();
            // The callback moves the branch itself, so the commit's compare-and-swap fails once and is retried.
            boolean[] raced = {false};
            repo.commit().setSource(f).setMessage("v1").alsoWrite((cid, tx) -> {
                tx.addEvent("t", "attempt-" + cid.abbreviate(8), new byte[0]);
                if (!raced[0]) {
                    raced[0] = true;
                    repo.updateBranch("main", java.util.Optional.of(first), first, "noop");
                    repo.createBranch("race", first);
                    repo.updateBranch("main", java.util.Optional.of(first),
                            repo.commit().setSource(f).setMessage("racer").setBranch("race").call().id(), "race");
                }
            }).call();
            // Only the successful attempt's event is in the outbox (the racer's commit had none).
            assertEquals(1, repo.outbox().pending(10).size());
            assertEquals(3, repo.log(repo.resolve("main"), 10).size());
        }
    }
}
