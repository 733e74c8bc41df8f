/** The coordinator: receives proposals over gRPC, validates them, merges them by policy and publishes events. */
package dev.merit.coordinator;
