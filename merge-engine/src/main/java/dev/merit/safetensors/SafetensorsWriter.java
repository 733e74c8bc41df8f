package dev.merit.safetensors;

import dev.merit.error.InvalidInputException;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a safetensors file whose layout (tensor order, dtypes, shapes) is fixed up front.
 * Callers fill each tensor through a writable memory-mapped segment, in any order and from any
 * thread, so large models stream straight to disk without passing through the Java heap.
 *
 * <p>The file is written under a temporary name next to the target and moved into place by
 * {@link #finish()}; closing an unfinished writer deletes it, so a failure leaves nothing behind.
 */
public final class SafetensorsWriter implements AutoCloseable {

    private final Path target;
    private final Path temp;
    private final Arena arena;
    private final MemorySegment file;
    private final long dataStart;
    private final Map<String, long[]> ranges = new HashMap<>();
    private boolean finished;

    private SafetensorsWriter(Path target, List<TensorInfo> layout, Map<String, String> metadata) throws IOException {
        this.target = target.toAbsolutePath();
        byte[] header = SafetensorsFile.headerBytes(layout, metadata);
        long offset = 0;
        for (TensorInfo t : layout) {
            if (t.name().equals(SafetensorsFile.METADATA_KEY)) {
                throw new InvalidInputException(target + ": a tensor cannot be named " + SafetensorsFile.METADATA_KEY);
            }
            long size = t.byteSize();
            if (ranges.put(t.name(), new long[] {offset, size}) != null) {
                throw new InvalidInputException(target + ": tensor '" + t.name() + "' appears twice");
            }
            offset += size;
        }
        this.dataStart = 8 + header.length;
        Path dir = this.target.getParent();
        Files.createDirectories(dir);
        // createTempFile alone would leave the finished file readable by its owner only.
        this.temp = dir.getFileSystem().supportedFileAttributeViews().contains("posix")
                ? Files.createTempFile(dir, "." + this.target.getFileName(), ".tmp",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-r--r--")))
                : Files.createTempFile(dir, "." + this.target.getFileName(), ".tmp");
        this.arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            long total = dataStart + offset;
            this.file = ch.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
        } catch (IOException | RuntimeException e) {
            arena.close();
            Files.deleteIfExists(temp);
            throw e;
        }
        file.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, header.length);
        MemorySegment.copy(MemorySegment.ofArray(header), 0, file, 8, header.length);
    }

    /** Starts a file at {@code target} with tensors laid out in {@code layout}'s order. */
    public static SafetensorsWriter create(Path target, List<TensorInfo> layout, Map<String, String> metadata) {
        try {
            return new SafetensorsWriter(target, layout, metadata);
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": " + e.getMessage(), e);
        }
    }

    /** The writable bytes of tensor {@code name}. */
    public MemorySegment segment(String name) {
        long[] r = ranges.get(name);
        if (r == null) {
            throw new IllegalArgumentException(target + ": tensor '" + name + "' is not in the layout");
        }
        return file.asSlice(dataStart + r[0], r[1]);
    }

    /** Flushes the data and moves the file into place. */
    public void finish() {
        finish(true);
    }

    /**
     * Moves the file into place; with {@code durable} false its data is left to the kernel to
     * write back, as {@code cp} does (for outputs a user can recreate, like checkouts).
     */
    public void finish(boolean durable) {
        try {
            if (durable) {
                file.force();
            }
            arena.close();
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            finished = true;
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (!finished) {
            if (arena.scope().isAlive()) {
                arena.close();
            }
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // best effort: the temporary file is named so it is recognisably stale
            }
        }
    }

    /** Writes every tensor of {@code source} to {@code target}, keeping order and metadata. */
    public static void write(TensorSource source, Path target) {
        try (SafetensorsWriter w = create(target, source.tensors(), source.metadata())) {
            source.tensors().parallelStream().forEach(t ->
                    MemorySegment.copy(source.data(t.name()), 0, w.segment(t.name()), 0, t.byteSize()));
            w.finish();
        }
    }
}
