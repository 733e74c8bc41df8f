/** Coordinator harness: push-to-merged-commit latency and ingest throughput on loopback. */
package dev.merit.bench.coordinator;
