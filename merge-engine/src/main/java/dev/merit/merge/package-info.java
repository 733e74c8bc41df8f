/**
 * Merge strategies (average, Fisher, task arithmetic, TIES, DARE, median, trimmed mean, Krum,
 * Multi-Krum, RegMean, with norm clipping), run by {@link dev.merit.merge.Merger} over dense models,
 * dense deltas or sparse deltas, streaming block by block over memory-mapped inputs (or, for
 * sparse inputs, only at the union of their positions: {@link dev.merit.merge.SparseMergeResult}), and the
 * {@link dev.merit.merge.MergeStatistics} reviewers read. Recipes live in
 * {@link dev.merit.merge.recipe}; the formulas are in {@code docs/merging.md}.
 *
 * <p>Class map (only {@code Merger} and the value types are public):
 * <ul>
 *   <li>{@code Merger}: the API and builder; runs scan, settings and merge pass in order.</li>
 *   <li>{@code MergePlan}: validation of inputs, rules and tensors before any data is read; the block pool.</li>
 *   <li>{@code OpenedTensor}: one tensor's segments from every input; loads a contiguous block.</li>
 *   <li>{@code PassScheduler}: the dense pass scheduler (workers claim chunks of adjacent blocks).</li>
 *   <li>{@code Scan}: per-tensor sums (norms, dots, supports, Fisher sums) and the statistics built
 *       from them; summed per chunk, then chunk by chunk, so results never depend on the thread count.</li>
 *   <li>{@code TensorSettings}: weights, clip factors, Fisher multipliers and DARE streams from the scan.</li>
 *   <li>{@code DensePass}: the merge pass into a file or sink; {@code Kernels} and {@code DenseKernels} hold the arithmetic.</li>
 *   <li>{@code SparseMerge}: the sparse mode (union of positions, gather, its own scan).</li>
 *   <li>Strategies with their own passes: {@code Ties} (thresholds), {@code Krum} (scores),
 *       {@code RegMean} (a solve per linear layer with the inputs' Gram matrices, read by {@code GramMatrix}).</li>
 * </ul>
 */
package dev.merit.merge;
