/**
 * The client side of the coordinator protocol: {@link dev.merit.remote.RemoteClient} (push,
 * resume, fetch, publish, proposals, review, tokens, keys), building a signed proposal from two
 * versions ({@link dev.merit.remote.ProposalBuilder}), and the remotes, tokens and signing key
 * a local repository keeps ({@link dev.merit.remote.LocalConfig}).
 */
package dev.merit.remote;
