/**
 * Merge strategies (average, Fisher, task arithmetic, TIES, DARE, median, trimmed mean, Krum,
 * Multi-Krum, with norm clipping), run by {@link dev.merit.merge.Merger} over dense models,
 * dense deltas or sparse deltas, streaming block by block over memory-mapped inputs (or, for
 * sparse inputs, only at the union of their positions: {@link dev.merit.merge.SparseMergeResult}), and the
 * {@link dev.merit.merge.MergeStatistics} reviewers read. Recipes live in
 * {@link dev.merit.merge.recipe}; the formulas are in {@code docs/merging.md}.
 */
package dev.merit.merge;
