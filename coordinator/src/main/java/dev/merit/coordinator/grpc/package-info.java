/**
 * The gRPC adapters: each service turns {@code merit.v1} messages into calls on a core service
 * ({@link dev.merit.coordinator.VersionService}, {@link dev.merit.coordinator.proposals.ProposalService},
 * {@link dev.merit.coordinator.auth.AdminService}) and back ({@link dev.merit.coordinator.grpc.Convert});
 * the authentication interceptor; the single place where exceptions become statuses
 * ({@link dev.merit.coordinator.grpc.Errors}). No business logic or role checks live here.
 */
package dev.merit.coordinator.grpc;
