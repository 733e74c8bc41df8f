package dev.merit.train.data;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/** Images of one idx file pair: unsigned-byte pixels off the heap and labels 0..9. */
public final class ImageSet {

    public static final int CLASSES = 10;

    private final ByteBuffer pixels;
    private final byte[] labels;
    private final int rows;
    private final int cols;
    private final String source;

    ImageSet(ByteBuffer pixels, byte[] labels, int rows, int cols, String source) {
        this.pixels = pixels;
        this.labels = labels;
        this.rows = rows;
        this.cols = cols;
        this.source = source;
    }

    public int size() {
        return labels.length;
    }

    /** Pixels per image. */
    public int pixels() {
        return rows * cols;
    }

    public int label(int i) {
        return labels[i];
    }

    public String source() {
        return source;
    }

    /** Writes images {@code idx[from..from+count)} as floats in [0, 1] (pixel / 255) and their labels. */
    public void fill(int[] idx, int from, int count, FloatBuffer x, LongBuffer y) {
        int p = pixels();
        x.clear();
        y.clear();
        for (int k = 0; k < count; k++) {
            int i = idx[from + k];
            int base = i * p;
            for (int j = 0; j < p; j++) {
                x.put((pixels.get(base + j) & 0xff) * (1f / 255f));
            }
            y.put(labels[i]);
        }
        x.flip();
        y.flip();
    }

    /** Every image, in file order. */
    public Examples all() {
        int[] idx = new int[size()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        return new Examples(this, idx, source);
    }
}
