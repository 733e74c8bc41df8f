/** Prometheus metrics of a coordinator: proposals by outcome and reason, bytes received, merge durations, heads. */
package dev.merit.coordinator.metrics;
