/**
 * Coordinator harnesses on loopback: push-to-merged-commit latency and ingest throughput
 * ({@code PushBench}), and many contributors pushing to a coordinator process for a fixed time
 * with its resident memory sampled ({@code LoadHarness}).
 */
package dev.merit.bench.coordinator;
