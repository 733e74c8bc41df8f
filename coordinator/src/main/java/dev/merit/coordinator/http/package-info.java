/** The coordinator's HTTP port: {@code /metrics} for Prometheus, and room for the review page. */
package dev.merit.coordinator.http;
