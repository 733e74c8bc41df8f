package dev.merit.store;

import java.time.Instant;
import java.util.Optional;

/** One move of a ref: from {@code oldId} (empty when created) to {@code newId} (empty when deleted). */
public record ReflogEntry(String ref, long sequence, Optional<ObjectId> oldId, Optional<ObjectId> newId,
                          Instant time, String message) {}
