package dev.merit.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ImageSet;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.SplittableRandom;

/**
 * Mini-batches of a set of examples in a seeded order (reshuffled each epoch). One buffer pair
 * is reused for every batch, so a batch's arrays must be closed (with their step's manager)
 * before the next batch is made.
 */
final class Batches {

    private final ImageSet images;
    private final int[] order;
    private final int batch;
    private final SplittableRandom rnd;
    private final FloatBuffer x;
    private final LongBuffer y;
    private int at;

    Batches(Examples examples, int batch, long seed, boolean shuffle) {
        this.images = examples.images();
        this.order = examples.indices();
        this.batch = batch;
        this.rnd = shuffle ? new SplittableRandom(seed) : null;
        if (shuffle) {
            shuffle();
        }
        this.x = ByteBuffer.allocateDirect(batch * images.pixels() * 4).order(ByteOrder.nativeOrder()).asFloatBuffer();
        this.y = ByteBuffer.allocateDirect(batch * 8).order(ByteOrder.nativeOrder()).asLongBuffer();
    }

    private void shuffle() {
        for (int i = order.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }

    /** Whether a pass without shuffling has more batches. */
    boolean hasNext() {
        return at < order.length;
    }

    /** The next batch (images {@code [B, pixels]}, labels {@code [B]}) in {@code manager}; wraps around after an epoch. */
    NDArray[] next(NDManager manager) {
        if (at >= order.length) {
            at = 0;
            if (rnd != null) {
                shuffle();
            }
        }
        int n = Math.min(batch, order.length - at);
        images.fill(order, at, n, x, y);
        at += n;
        NDArray xs = manager.create(x, new Shape(n, images.pixels()), DataType.FLOAT32);
        NDArray ys = manager.create(y, new Shape(n), DataType.INT64);
        return new NDArray[] {xs, ys};
    }
}
