package dev.merit.store;

/** Result of {@link Repository#gc}: objects deleted and the bytes they held. */
public record GcReport(long removedObjects, long removedBytes) {}
