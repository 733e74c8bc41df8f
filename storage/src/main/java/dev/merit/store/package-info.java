/**
 * The content-addressed model store: tensor chunks, sparse deltas, manifests and commits in
 * RocksDB, refs moved by compare-and-swap with a reflog, keyframe + delta-chain versions,
 * fsck and gc. {@link dev.merit.store.Repository} is the entry point.
 */
package dev.merit.store;
