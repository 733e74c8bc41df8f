package dev.merit.train.data;

import dev.merit.error.InvalidInputException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Where MNIST-format idx files come from: a directory given with {@code --data}; else Debian's
 * {@code dataset-fashion-mnist} under {@value #DEBIAN_DIR}; else the Fashion-MNIST subset bundled
 * in merit (12,000 training and 2,000 test images). Each file may be gzipped ({@code .gz}).
 */
public final class DataDir {

    public static final String DEBIAN_DIR = "/usr/share/datasets/fashion-mnist";
    static final String BUNDLED = "fashion-mnist-subset/";

    private final Path dir;

    private DataDir(Path dir) {
        this.dir = dir;
    }

    /** {@code dir}, or the default when null. */
    public static DataDir of(Path dir) {
        if (dir != null) {
            if (!Files.isDirectory(dir)) {
                throw new InvalidInputException("data: " + dir + ": no such directory");
            }
            return new DataDir(dir);
        }
        Path debian = Path.of(DEBIAN_DIR);
        return new DataDir(Files.isDirectory(debian) ? debian : null);
    }

    /** The Fashion-MNIST subset shipped in merit's jar. */
    public static DataDir bundled() {
        return new DataDir(null);
    }

    public String describe() {
        return dir == null ? "bundled Fashion-MNIST subset" : dir.toString();
    }

    /** The training images and labels ({@code train-*}). */
    public ImageSet train() {
        return load("train");
    }

    /** The test images and labels ({@code t10k-*}). */
    public ImageSet test() {
        return load("t10k");
    }

    private ImageSet load(String split) {
        String images = split + "-images-idx3-ubyte";
        String labels = split + "-labels-idx1-ubyte";
        try (InputStream i = open(images); InputStream l = open(labels)) {
            return Idx.read(i, where(images), l, where(labels));
        } catch (IOException e) {
            throw new InvalidInputException("data: " + describe() + ": " + e.getMessage());
        }
    }

    private String where(String name) {
        return dir == null ? "bundled " + name + ".gz" : dir.resolve(name) + "(.gz)";
    }

    private InputStream open(String name) throws IOException {
        if (dir == null) {
            InputStream in = DataDir.class.getResourceAsStream(BUNDLED + name + ".gz");
            if (in == null) {
                throw new InvalidInputException("data: the bundled " + name + ".gz is missing from merit's jar");
            }
            return new GZIPInputStream(new BufferedInputStream(in, 1 << 16), 1 << 16);
        }
        Path plain = dir.resolve(name);
        Path gz = dir.resolve(name + ".gz");
        try {
            if (Files.isRegularFile(gz)) {
                return new GZIPInputStream(new BufferedInputStream(Files.newInputStream(gz), 1 << 16), 1 << 16);
            }
            if (Files.isRegularFile(plain)) {
                return new BufferedInputStream(Files.newInputStream(plain), 1 << 16);
            }
        } catch (IOException e) {
            throw new InvalidInputException("data: " + gz + ": " + e.getMessage());
        } catch (UncheckedIOException e) {
            throw new InvalidInputException("data: " + gz + ": " + e.getMessage());
        }
        throw new InvalidInputException("data: " + plain + "(.gz): no such file");
    }
}
