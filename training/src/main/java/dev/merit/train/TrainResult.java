package dev.merit.train;

import dev.merit.store.ObjectId;

/**
 * What a training round did and committed. Bytes are what the commit added to the store: the
 * update (its sparse deltas and manifest), the Fisher and the Gram matrices, against the
 * model's dense float32 size.
 */
public record TrainResult(ObjectId commit, ObjectId base, int steps, double finalLoss, double examplesPerSecond,
                          long changedEntries, long parameters, long deltaBytes, long fisherBytes, long gramBytes,
                          long denseBytes, double maskSeconds, double trainSeconds, double statisticsSeconds) {}
