package dev.merit.safetensors;

import dev.merit.error.InvalidInputException;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
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
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes a safetensors file whose layout (tensor order, dtypes, shapes) is fixed up front.
 * Tensors are filled in any order and from any thread, so large models stream straight to disk
 * without passing through the Java heap, in one of two {@link Mode}s: through writable
 * memory-mapped segments ({@link #segment}), or with positional writes of caller buffers
 * ({@link #write}, which also works on a mapped writer).
 *
 * <p>The file is written under a temporary name next to the target, flushed to the device and
 * moved into place by {@link #finish()}; closing an unfinished writer deletes it, so a failure
 * leaves nothing behind. The finished file is readable by everyone (rw-r--r--).
 */
public final class SafetensorsWriter implements AutoCloseable {

    /** How tensor bytes reach the file. */
    public enum Mode {
        /**
         * The file is mapped and callers write into {@link #segment}s: no copy, but every new page
         * costs a page fault and a block allocation on first touch.
         */
        MAPPED,
        /**
         * Callers hand buffers to {@link #write}, which copies them into the page cache with
         * positional writes ({@code pwrite}); several times faster than first-touch faults on a
         * new mapping when the data is produced block by block anyway. Every
         * {@value #EARLY_FLUSH_BYTES} bytes written, a helper thread starts flushing them to the
         * device, so a durable {@link #finish()} mostly waits for the last few.
         */
        POSITIONAL
    }

    /** Positional writes from heap segments go through the JDK's temporary direct buffers; keep those small. */
    private static final long HEAP_WRITE_CHUNK = 1 << 20;
    /** A ByteBuffer view holds at most 2 GiB; write larger segments in slices. */
    private static final long MAX_WRITE = 1L << 30;
    /** Bytes written between background flushes in {@link Mode#POSITIONAL}. */
    public static final long EARLY_FLUSH_BYTES = 32L << 20;

    private final Path target;
    private final Path temp;
    private final Mode mode;
    private final Arena arena;
    private final MemorySegment file;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, long[]> ranges = new HashMap<>();
    private boolean finished;
    private final AtomicLong unflushed = new AtomicLong();
    /** The background flush under way, if any (POSITIONAL only). */
    private Thread flusher;
    private IOException flushFailure;

    private SafetensorsWriter(Path target, List<TensorInfo> layout, Map<String, String> metadata, Mode mode)
            throws IOException {
        this.target = target.toAbsolutePath();
        this.mode = mode;
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
        long total = dataStart + offset;
        if (mode == Mode.MAPPED) {
            this.channel = null;
            this.arena = Arena.ofShared();
            try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                this.file = ch.map(FileChannel.MapMode.READ_WRITE, 0, total, arena);
            } catch (IOException | RuntimeException e) {
                arena.close();
                Files.deleteIfExists(temp);
                throw e;
            }
            file.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, header.length);
            MemorySegment.copy(MemorySegment.ofArray(header), 0, file, 8, header.length);
        } else {
            this.arena = null;
            this.file = null;
            FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE);
            try {
                ByteBuffer head = ByteBuffer.allocate(8 + header.length).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(header.length).put(header).flip();
                writeFully(ch, head, 0);
                if (total > dataStart) {
                    // Sets the final size up front (tensors never written read as zeros, as in a mapped file).
                    writeFully(ch, ByteBuffer.allocate(1), total - 1);
                }
            } catch (IOException | RuntimeException e) {
                ch.close();
                Files.deleteIfExists(temp);
                throw e;
            }
            this.channel = ch;
        }
    }

    /** Starts a memory-mapped ({@link Mode#MAPPED}) file at {@code target} with tensors laid out in {@code layout}'s order. */
    public static SafetensorsWriter create(Path target, List<TensorInfo> layout, Map<String, String> metadata) {
        return create(target, layout, metadata, Mode.MAPPED);
    }

    /** Starts a file at {@code target} with tensors laid out in {@code layout}'s order, written in {@code mode}. */
    public static SafetensorsWriter create(Path target, List<TensorInfo> layout, Map<String, String> metadata, Mode mode) {
        try {
            return new SafetensorsWriter(target, layout, metadata, mode);
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": " + e.getMessage(), e);
        }
    }

    public Mode mode() {
        return mode;
    }

    /** The writable bytes of tensor {@code name}; {@link Mode#MAPPED} only. */
    public MemorySegment segment(String name) {
        long[] r = range(name);
        if (file == null) {
            throw new IllegalStateException(target + ": a " + mode + " writer has no segments; use write()");
        }
        return file.asSlice(dataStart + r[0], r[1]);
    }

    /**
     * Writes {@code bytes} into tensor {@code name} starting {@code offset} bytes into it. Safe to
     * call from several threads at once for disjoint ranges; in either mode.
     */
    public void write(String name, long offset, MemorySegment bytes) {
        long[] r = range(name);
        long size = bytes.byteSize();
        if (offset < 0 || size > r[1] - offset) {
            throw new IndexOutOfBoundsException(target + ": tensor '" + name + "': writing " + size
                    + " bytes at offset " + offset + " of " + r[1]);
        }
        long pos = dataStart + r[0] + offset;
        if (file != null) {
            MemorySegment.copy(bytes, 0, file, pos, size);
            return;
        }
        long chunk = bytes.isNative() ? MAX_WRITE : HEAP_WRITE_CHUNK;
        try {
            for (long done = 0; done < size; done += chunk) {
                writeFully(channel, bytes.asSlice(done, Math.min(chunk, size - done)).asByteBuffer(), pos + done);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": tensor '" + name + "': " + e.getMessage(), e);
        }
        if (unflushed.addAndGet(size) >= EARLY_FLUSH_BYTES) {
            startFlush();
        }
    }

    /** Starts writing back what is in the page cache on a helper thread, unless one is still at it. */
    private synchronized void startFlush() {
        if (finished || (flusher != null && flusher.isAlive()) || unflushed.get() < EARLY_FLUSH_BYTES) {
            return;
        }
        unflushed.set(0);
        flusher = Thread.ofPlatform().daemon().name("safetensors-flush").start(() -> {
            try {
                channel.force(false);
            } catch (IOException e) {
                synchronized (this) {
                    flushFailure = e;
                }
            }
        });
    }

    /** Waits for the background flush; rethrows what it failed with. */
    private void awaitFlush() throws IOException {
        Thread t;
        synchronized (this) {
            t = flusher;
        }
        if (t != null) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while flushing " + temp);
            }
        }
        synchronized (this) {
            if (flushFailure != null) {
                throw flushFailure;
            }
        }
    }

    private long[] range(String name) {
        long[] r = ranges.get(name);
        if (r == null) {
            throw new IllegalArgumentException(target + ": tensor '" + name + "' is not in the layout");
        }
        return r;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        long p = pos;
        while (buf.hasRemaining()) {
            p += ch.write(buf, p);
        }
    }

    /** Flushes the data to the device and moves the file into place. */
    public void finish() {
        finish(true);
    }

    /**
     * Moves the file into place; with {@code durable} false its data is left to the kernel to
     * write back, as {@code cp} does (for outputs a user can recreate, like checkouts).
     */
    public void finish(boolean durable) {
        try {
            if (file != null) {
                if (durable) {
                    file.force();
                }
                arena.close();
            } else {
                awaitFlush();
                if (durable) {
                    channel.force(false);
                }
                channel.close();
            }
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            finished = true;
        } catch (IOException e) {
            throw new UncheckedIOException(target + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (!finished) {
            if (arena != null && arena.scope().isAlive()) {
                arena.close();
            }
            if (channel != null) {
                try {
                    awaitFlush();
                } catch (IOException ignored) {
                    // the file is deleted below
                }
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // deleting the file below is what matters
                }
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
