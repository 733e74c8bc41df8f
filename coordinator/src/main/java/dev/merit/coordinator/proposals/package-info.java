/**
 * Proposals: their wire-independent description ({@link dev.merit.wire.ProposalSpec}),
 * the signed digest, upload staging for resumable streams, storage as records, and the service
 * that receives, validates and stores them.
 */
package dev.merit.coordinator.proposals;
