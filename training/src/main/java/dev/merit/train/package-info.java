/**
 * Training on a contributor's box with DJL's PyTorch engine: model specs and their PyTorch-named
 * parameters ({@link dev.merit.train.ModelSpec}, {@link dev.merit.train.Network}), the FISH mask
 * and Fisher estimates ({@link dev.merit.train.Fisher}, {@link dev.merit.train.Masks}), RegMean
 * Gram matrices ({@link dev.merit.train.Grams}), one training round that commits a sparse update
 * ({@link dev.merit.train.TrainRound}) and evaluation ({@link dev.merit.train.Evaluator}).
 */
package dev.merit.train;
