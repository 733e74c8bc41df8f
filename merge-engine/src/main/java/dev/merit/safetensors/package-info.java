/**
 * The safetensors format: memory-mapped, validating reader ({@link dev.merit.safetensors.SafetensorsFile}),
 * sharded checkpoints, and a streaming writer.
 */
package dev.merit.safetensors;
