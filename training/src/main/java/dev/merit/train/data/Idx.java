package dev.merit.train.data;

import dev.merit.error.InvalidInputException;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/** Reads MNIST-format idx files: unsigned-byte images {@code [n, rows, cols]} (magic 0x803) and labels {@code [n]} (0x801). */
final class Idx {

    private Idx() {}

    static ImageSet read(InputStream images, String imagesName, InputStream labels, String labelsName) throws IOException {
        DataInputStream in = new DataInputStream(images);
        int magic = header(in, imagesName);
        if (magic != 0x803) {
            throw new InvalidInputException("data: " + imagesName + ": not an idx image file (magic 0x"
                    + Integer.toHexString(magic) + ", expected 0x803)");
        }
        int n = in.readInt();
        int rows = in.readInt();
        int cols = in.readInt();
        if (n <= 0 || rows <= 0 || cols <= 0 || (long) n * rows * cols > Integer.MAX_VALUE) {
            throw new InvalidInputException("data: " + imagesName + ": bad dimensions " + n + "x" + rows + "x" + cols);
        }
        ByteBuffer pixels = ByteBuffer.allocateDirect(n * rows * cols);
        byte[] buf = new byte[1 << 16];
        while (pixels.hasRemaining()) {
            int r = in.read(buf, 0, Math.min(buf.length, pixels.remaining()));
            if (r < 0) {
                throw new InvalidInputException("data: " + imagesName + ": truncated at byte " + (16 + pixels.position())
                        + " of " + (16L + (long) n * rows * cols));
            }
            pixels.put(buf, 0, r);
        }
        pixels.flip();

        DataInputStream lin = new DataInputStream(labels);
        int lmagic = header(lin, labelsName);
        if (lmagic != 0x801) {
            throw new InvalidInputException("data: " + labelsName + ": not an idx label file (magic 0x"
                    + Integer.toHexString(lmagic) + ", expected 0x801)");
        }
        int ln = lin.readInt();
        if (ln != n) {
            throw new InvalidInputException("data: " + labelsName + ": " + ln + " labels for " + n + " images in " + imagesName);
        }
        byte[] y = new byte[n];
        try {
            lin.readFully(y);
        } catch (EOFException e) {
            throw new InvalidInputException("data: " + labelsName + ": truncated (expected " + n + " labels)");
        }
        for (int i = 0; i < n; i++) {
            if (y[i] < 0 || y[i] >= ImageSet.CLASSES) {
                throw new InvalidInputException("data: " + labelsName + ": label " + y[i] + " at index " + i
                        + " is outside 0.." + (ImageSet.CLASSES - 1));
            }
        }
        return new ImageSet(pixels, y, rows, cols, imagesName);
    }

    private static int header(DataInputStream in, String name) throws IOException {
        try {
            return in.readInt();
        } catch (EOFException e) {
            throw new InvalidInputException("data: " + name + ": empty file");
        } catch (java.util.zip.ZipException e) {
            throw new InvalidInputException("data: " + name + ": not a valid gzip file (" + e.getMessage() + ")");
        }
    }
}
