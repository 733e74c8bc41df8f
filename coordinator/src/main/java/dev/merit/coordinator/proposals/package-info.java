/**
 * Proposals: the service that receives them ({@link dev.merit.coordinator.proposals.ProposalService},
 * running the validation chain on each upload), upload staging for resumable streams, and their
 * records ({@link dev.merit.coordinator.proposals.ProposalLedger} writes each decision with its
 * event). The wire-independent header is {@link dev.merit.wire.ProposalSpec}.
 */
package dev.merit.coordinator.proposals;
