package dev.merit.train;

import ai.djl.ndarray.NDArray;
import dev.merit.train.data.ImageSet;

/** Cross-entropy of logits against integer labels. */
final class Losses {

    private Losses() {}

    /** Per-example negative log-likelihood {@code [B]}. */
    static NDArray perExample(NDArray logits, NDArray labels) {
        return logits.logSoftmax(1).mul(labels.oneHot(ImageSet.CLASSES)).sum(new int[] {1}).neg();
    }

    static NDArray mean(NDArray logits, NDArray labels) {
        return perExample(logits, labels).mean();
    }
}
