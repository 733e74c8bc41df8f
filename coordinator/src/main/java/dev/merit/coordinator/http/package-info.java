/**
 * The coordinator's HTTP port: {@code /metrics} for Prometheus, the review page (static files
 * packaged under {@code page/}) at {@code /}, and its JSON API and event stream under {@code /api/}.
 * Adapters only: the review service decides, these classes route, authenticate and convert.
 */
package dev.merit.coordinator.http;
