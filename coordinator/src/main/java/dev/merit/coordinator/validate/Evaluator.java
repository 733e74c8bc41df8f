package dev.merit.coordinator.validate;

import dev.merit.tensor.TensorSource;

/**
 * Scores a model on a held-out set; higher is better (e.g. accuracy, or minus the loss). The
 * quality gate scores the head and head + proposal and rejects the proposal if the score drops
 * by more than its margin. Called from one thread at a time.
 */
public interface Evaluator {

    double score(TensorSource model);

    /** For messages and provenance, e.g. "fashion-mnist accuracy (1000 examples)". */
    String describe();
}
