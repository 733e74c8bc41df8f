/**
 * Validation of proposals as a chain ({@link dev.merit.coordinator.validate.ValidationChain}) of
 * small validators, each with one job: header checks ({@link dev.merit.coordinator.validate.Validator}:
 * duplicate, signature, staleness, structure), the streaming checks of a payload
 * ({@link dev.merit.coordinator.validate.Ingest}), and payload checks
 * ({@link dev.merit.coordinator.validate.PayloadValidator}: numbers, digest, quality gate).
 * Transport-neutral; knows proposals only by their {@link dev.merit.wire.ProposalSpec}.
 */
package dev.merit.coordinator.validate;
