package dev.merit.coordinator.proposals;

import dev.merit.error.InvalidInputException;
import java.time.Duration;

/**
 * What one contributor may hold in staged uploads, so nobody can exhaust the coordinator's file
 * descriptors or disk: streams open at once, bytes staged over all its uploads, and how long an
 * upload nobody writes is kept for a resume.
 *
 * @param maxConcurrent  upload streams one contributor may have open at once
 * @param maxStagedBytes bytes one contributor may have staged over all its uploads
 * @param idleExpiry     an upload not written for this long is deleted (also found on start)
 */
public record UploadLimits(int maxConcurrent, long maxStagedBytes, Duration idleExpiry) {

    public UploadLimits {
        if (maxConcurrent < 1) {
            throw new InvalidInputException("upload limits: at least 1 concurrent upload per contributor, got " + maxConcurrent);
        }
        if (maxStagedBytes < 1) {
            throw new InvalidInputException("upload limits: staged bytes per contributor must be > 0, got " + maxStagedBytes);
        }
        if (idleExpiry.isNegative() || idleExpiry.isZero()) {
            throw new InvalidInputException("upload limits: idle expiry must be > 0, got " + idleExpiry);
        }
    }

    /** 4 streams, 16 GiB staged per contributor (two uploads of the largest payload), 1 hour idle. */
    public static UploadLimits defaults() {
        return new UploadLimits(4, 16L << 30, Duration.ofHours(1));
    }
}
