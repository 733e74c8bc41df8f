/**
 * The coordinator's event bus: an embedded single-node KRaft broker (or an external Kafka
 * cluster), the relay that moves the repository's outbox into the {@link
 * dev.merit.coordinator.events.Topics topics} exactly once, the JSON event payloads, and a
 * {@link dev.merit.coordinator.events.VersionWatcher} that follows new versions.
 */
package dev.merit.coordinator.events;
