/**
 * What maintainers see before they decide: per-tensor statistics of a proposal's change, its
 * conflicts with the other waiting proposals, version history, and one facade over the
 * proposal, policy and version services for the review page's HTTP adapter.
 */
package dev.merit.coordinator.review;
