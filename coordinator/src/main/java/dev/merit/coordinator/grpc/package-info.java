/**
 * The gRPC adapters: services that turn {@code merit.v1} messages into calls on the domain
 * services and back ({@link dev.merit.coordinator.grpc.Convert}), the authentication interceptor,
 * and the single place where exceptions become statuses ({@link dev.merit.coordinator.grpc.Errors}).
 */
package dev.merit.coordinator.grpc;
