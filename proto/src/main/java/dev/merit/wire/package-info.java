/**
 * The wire contract's Java half, shared by the coordinator and its clients: conversions between
 * {@code merit.v1} messages and domain values ({@link dev.merit.wire.WireConvert}), stored objects
 * in pieces ({@link dev.merit.wire.ObjectPieces}), the proposal header and the digest a contributor
 * signs ({@link dev.merit.wire.ProposalSpec}, {@link dev.merit.wire.ProposalDigest}), and Ed25519
 * signing ({@link dev.merit.wire.Ed25519}).
 */
package dev.merit.wire;
