/**
 * Sparse changes to tensors: their representation ({@link dev.merit.delta.SparseTensorDelta}),
 * statistics comparing two versions ({@link dev.merit.delta.ChangeStats}) and the choice of
 * entries to keep ({@link dev.merit.delta.Sparsifier}). Everything streams over memory-mapped
 * tensors block by block on all cores, so models larger than RAM work.
 */
package dev.merit.delta;
