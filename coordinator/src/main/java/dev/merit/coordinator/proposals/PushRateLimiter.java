package dev.merit.coordinator.proposals;

import dev.merit.coordinator.CoordinatorException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * A token bucket per contributor: {@code perMinute} pushes in a burst, refilled evenly over a
 * minute. Buckets live in memory; a restart starts everyone full, which costs at most one burst.
 */
final class PushRateLimiter {

    private static final long MINUTE_NANOS = 60_000_000_000L;

    private final int perMinute;
    private final LongSupplier nanoTime;
    private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

    private static final class Bucket {
        double tokens;
        long at;

        Bucket(double tokens, long at) {
            this.tokens = tokens;
            this.at = at;
        }
    }

    PushRateLimiter(int perMinute, LongSupplier nanoTime) {
        this.perMinute = perMinute;
        this.nanoTime = nanoTime;
    }

    /** Takes one push from {@code contributor}'s bucket, or refuses with when to retry. */
    void take(String contributor) {
        long now = nanoTime.getAsLong();
        Bucket b = buckets.computeIfAbsent(contributor, c -> new Bucket(perMinute, now));
        synchronized (b) {
            b.tokens = Math.min(perMinute, b.tokens + (now - b.at) * (double) perMinute / MINUTE_NANOS);
            b.at = now;
            if (b.tokens < 1) {
                double waitSeconds = (1 - b.tokens) * 60.0 / perMinute;
                throw new CoordinatorException(CoordinatorException.Kind.RESOURCE_EXHAUSTED, String.format(
                        "contributor '%s' started more than %d pushes in a minute; retry in %.1f s", contributor, perMinute, waitSeconds));
            }
            b.tokens -= 1;
        }
    }
}
