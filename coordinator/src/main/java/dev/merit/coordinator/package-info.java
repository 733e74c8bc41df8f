/**
 * The coordinator. {@link dev.merit.coordinator.Coordinator} wires the transport-neutral core
 * (versions and the one way a branch advances, {@link dev.merit.coordinator.Versions#advance};
 * the role-checked {@link dev.merit.coordinator.VersionService}; proposals, validation, policies,
 * identity in their packages) to its adapters (gRPC, HTTP) and the event bus.
 */
package dev.merit.coordinator;
