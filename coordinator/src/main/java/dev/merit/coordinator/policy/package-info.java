/**
 * Merge policies: when accepted proposals become a new version (manual, auto, batch), and the
 * merge itself, a commit whose provenance lists every proposal, weight and verdict.
 */
package dev.merit.coordinator.policy;
