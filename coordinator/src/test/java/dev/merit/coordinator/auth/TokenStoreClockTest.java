package dev.merit.coordinator.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.CoordinatorException;
import dev.merit.store.Repository;
import dev.merit.store.Transaction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token expiry against a clock the test moves, on a real RocksDB store; records from before expiry existed. */
class TokenStoreClockTest {

    @TempDir
    Path dir;

    /** A clock the test sets. */
    private static final class MovableClock extends Clock {
        Instant now = Instant.parse("2027-03-01T12:00:00Z");

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public java.time.ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }
    }

    @Test
    void aTokenWorksUntilItsExpiryAndNotAtIt() {
        MovableClock clock = new MovableClock();
        try (Repository repo = Repository.init(dir)) {
            TokenStore store = new TokenStore(repo, clock);
            Instant expires = clock.now.plus(Duration.ofDays(30));
            String t = store.create("eve", Role.CONTRIBUTOR, Optional.of(expires));
            clock.now = expires.minusMillis(1);
            assertEquals(new Principal("eve", Role.CONTRIBUTOR), store.authenticate(t));
            clock.now = expires;
            CoordinatorException e = assertThrows(CoordinatorException.class, () -> store.authenticate(t));
            assertEquals(CoordinatorException.Kind.UNAUTHENTICATED, e.kind());
            assertTrue(e.getMessage().contains("of 'eve' expired at 2027-03-31T12:00:00Z"), e.getMessage());
            assertEquals("expired", store.list().get(0).activeAt(clock.now) ? "active" : "expired");
        }
    }

    @Test
    void aTokenStoredBeforeExpiryExistedNeverExpires() {
        MovableClock clock = new MovableClock();
        try (Repository repo = Repository.init(dir)) {
            // The layout the coordinator wrote before tokens had a life: no format, no expiry.
            try (Transaction tx = repo.newTransaction()) {
                tx.putRecord(TokenStore.NAMESPACE, TokenStore.hash("mrt_old"),
                        "{\"name\":\"admin\",\"role\":\"maintainer\",\"created\":\"2026-01-01T00:00:00Z\"}".getBytes(StandardCharsets.UTF_8));
                tx.commit();
            }
            TokenStore store = new TokenStore(repo, clock);
            clock.now = Instant.parse("2099-01-01T00:00:00Z");
            assertEquals(new Principal("admin", Role.MAINTAINER), store.authenticate("mrt_old"));
            assertTrue(store.list().get(0).expires().isEmpty());
            assertTrue(store.bootstrap("admin").isEmpty(), "an existing store gets no new bootstrap token");
        }
    }
}
