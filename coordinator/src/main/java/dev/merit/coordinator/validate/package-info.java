/**
 * Validation of proposals: the streaming structure and number checks of a payload
 * ({@link dev.merit.coordinator.validate.Ingest}), staleness, and the quality gate's
 * {@link dev.merit.coordinator.validate.Evaluator} interface. Transport-neutral.
 */
package dev.merit.coordinator.validate;
