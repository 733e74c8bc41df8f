/**
 * Identity: roles, bearer tokens stored hashed, contributors' Ed25519 keys. Transport-neutral;
 * the gRPC interceptor that reads tokens lives in {@code dev.merit.coordinator.grpc}.
 */
package dev.merit.coordinator.auth;
