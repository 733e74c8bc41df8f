package dev.merit.coordinator.proposals;

/** Outbox topics this package writes (the names the event bus publishes under). */
final class Topics {
    static final String PROPOSALS = "merit.proposals";

    private Topics() {}
}
