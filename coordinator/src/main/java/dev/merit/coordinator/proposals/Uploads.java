package dev.merit.coordinator.proposals;

import dev.merit.coordinator.CoordinatorException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Payload bytes of uploads in progress, one file per upload under a directory of the
 * contributor who started it ({@code dir/<owner>/<upload id>.part}), so an upload id names an
 * upload only within its owner's uploads: another contributor can neither see, resume, truncate
 * nor delete it. A cut stream leaves its file behind; its length is the offset the client
 * resumes from. Each upload is written by one stream at a time. {@link UploadLimits} bound what
 * one contributor holds; uploads nobody wrote for the idle expiry are deleted by a sweeper (and
 * on start, so a restart does not keep them forever), and a stream that holds an upload open
 * without writing loses it the same way.
 */
public final class Uploads implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(Uploads.class.getName());

    private final Path dir;
    private final UploadLimits limits;
    private final Map<String, Upload> active = new ConcurrentHashMap<>();
    private final ScheduledExecutorService sweeper;

    public Uploads(Path dir) {
        this(dir, UploadLimits.defaults());
    }

    public Uploads(Path dir, UploadLimits limits) {
        this.dir = dir;
        this.limits = limits;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        sweep();
        this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "merit-upload-sweeper");
            t.setDaemon(true);
            return t;
        });
        long every = Math.clamp(limits.idleExpiry().toMillis() / 4, 100, 60_000);
        sweeper.scheduleWithFixedDelay(this::sweepQuietly, every, every, TimeUnit.MILLISECONDS);
    }

    public UploadLimits limits() {
        return limits;
    }

    /** The owner's directory name: a hash, so any contributor name makes a safe, fixed-length file name. */
    private static String ownerDir(String owner) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(owner.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(h, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private Path file(String owner, String uploadId) {
        if (!uploadId.matches("[0-9a-f]{64}")) {
            throw new dev.merit.error.InvalidInputException("upload id '" + (uploadId.length() > 80 ? uploadId.substring(0, 80) + "..." : uploadId) + "' is not a SHA-256 hex digest");
        }
        return dir.resolve(ownerDir(owner)).resolve(uploadId + ".part");
    }

    private static String key(String owner, String uploadId) {
        return owner + "\0" + uploadId;
    }

    /** Durably held bytes of {@code owner}'s upload, or -1 if it has none by that id (whoever else may). */
    public long offset(String owner, String uploadId) {
        Path f = file(owner, uploadId);
        try {
            return Files.exists(f) ? Files.size(f) : -1;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An open upload: the file, truncated to {@code resumeOffset} (the client re-sends the rest). */
    public final class Upload implements AutoCloseable {
        private final String owner;
        private final String id;
        private final FileChannel channel;
        private volatile long lastWrite = System.nanoTime();
        private volatile boolean expired;
        private boolean closed;

        private Upload(String owner, String id, FileChannel channel) {
            this.owner = owner;
            this.id = id;
            this.channel = channel;
        }

        private void ensureLive() {
            if (expired) {
                throw new CoordinatorException(CoordinatorException.Kind.ABORTED, "upload " + id.substring(0, 12)
                        + " expired: nothing was written for " + limits.idleExpiry() + "; push again");
            }
        }

        public void append(byte[] data) {
            ensureLive();
            try {
                long staged = stagedBytes(owner) - Files.size(file(owner, id)) + channel.position();
                if (staged + data.length > limits.maxStagedBytes()) {
                    throw new CoordinatorException(CoordinatorException.Kind.RESOURCE_EXHAUSTED, "contributor '" + owner
                            + "' would stage " + (staged + data.length) + " bytes over its uploads; the limit is "
                            + limits.maxStagedBytes() + " (finish or let other uploads expire first)");
                }
                ByteBuffer b = ByteBuffer.wrap(data);
                while (b.hasRemaining()) {
                    channel.write(b);
                }
                lastWrite = System.nanoTime();
            } catch (IOException e) {
                throw new UncheckedIOException("upload " + id + ": " + e.getMessage(), e);
            }
        }

        /** Forces written bytes to disk, so the offset a client is told survives a crash. */
        public void sync() {
            ensureLive();
            try {
                channel.force(false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** Reads {@code len} bytes at {@code at}. */
        public byte[] read(long at, int len) {
            ensureLive();
            try {
                ByteBuffer b = ByteBuffer.allocate(len);
                while (b.hasRemaining()) {
                    if (channel.read(b, at + b.position()) < 0) {
                        throw new IOException("upload " + id + " ends before offset " + (at + len));
                    }
                }
                return b.array();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** Deletes the staged bytes (the proposal was stored or rejected). */
        public void discard() {
            close();
            try {
                Files.deleteIfExists(file(owner, id));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                active.remove(key(owner, id), this);
                try {
                    channel.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }

    /**
     * Opens {@code owner}'s upload for one stream. A new upload ({@code resumeOffset} 0) starts
     * empty; a resumed one must not claim more bytes than are held.
     */
    public Upload open(String owner, String uploadId, long resumeOffset) {
        Path f = file(owner, uploadId);
        String k = key(owner, uploadId);
        synchronized (active) {
            long mine = active.keySet().stream().filter(x -> x.startsWith(owner + "\0")).count();
            if (active.containsKey(k)) {
                throw new CoordinatorException(CoordinatorException.Kind.ABORTED, "upload " + uploadId.substring(0, 12)
                        + " is being written by another stream; retry when it ends");
            }
            if (mine >= limits.maxConcurrent()) {
                throw new CoordinatorException(CoordinatorException.Kind.RESOURCE_EXHAUSTED, "contributor '" + owner + "' has "
                        + mine + " uploads in progress; the limit is " + limits.maxConcurrent() + " at once");
            }
            active.put(k, placeholder(owner, uploadId));
        }
        try {
            Files.createDirectories(f.getParent());
            long held = Files.exists(f) ? Files.size(f) : 0;
            if (resumeOffset < 0 || resumeOffset > held) {
                throw new CoordinatorException(CoordinatorException.Kind.FAILED_PRECONDITION, "cannot resume upload "
                        + uploadId.substring(0, 12) + " at offset " + resumeOffset + ": the coordinator holds " + held + " bytes");
            }
            FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            ch.truncate(resumeOffset);
            ch.position(resumeOffset);
            Upload u = new Upload(owner, uploadId, ch);
            active.put(k, u);
            return u;
        } catch (IOException e) {
            active.remove(k);
            throw new UncheckedIOException("upload " + uploadId + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            active.remove(k);
            throw e;
        }
    }

    /** Holds an upload's place while its file opens (counted against the owner's limit). */
    private Upload placeholder(String owner, String uploadId) {
        return new Upload(owner, uploadId, null);
    }

    /** Bytes {@code owner} has staged over all its uploads. */
    long stagedBytes(String owner) {
        Path d = dir.resolve(ownerDir(owner));
        if (!Files.isDirectory(d)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(d)) {
            long sum = 0;
            for (Path p : s.toList()) {
                try {
                    sum += Files.size(p);
                } catch (IOException gone) {
                    // deleted meanwhile (finished or expired): holds nothing
                }
            }
            return sum;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void sweepQuietly() {
        try {
            sweep();
        } catch (RuntimeException e) {
            LOG.log(Level.WARNING, "sweeping idle uploads in " + dir, e);
        }
    }

    /**
     * Deletes uploads nobody wrote for the idle expiry: files no stream holds (by their time on
     * disk, which survives restarts) and streams that hold one without writing (closed first).
     */
    void sweep() {
        long now = System.nanoTime();
        for (Upload u : List.copyOf(active.values())) {
            if (u.channel != null && now - u.lastWrite > limits.idleExpiry().toNanos()) {
                u.expired = true;
                u.discard();
            }
        }
        Instant cutoff = Instant.now().minus(limits.idleExpiry());
        try (Stream<Path> s = Files.walk(dir, 2)) {
            for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".part")).toList()) {
                String owner = p.getParent().getFileName().toString();
                String id = p.getFileName().toString().replace(".part", "");
                boolean held = active.values().stream().anyMatch(u -> u.id.equals(id) && ownerDir(u.owner).equals(owner));
                FileTime t;
                try {
                    t = Files.getLastModifiedTime(p);
                } catch (IOException gone) {
                    continue;
                }
                if (!held && t.toInstant().isBefore(cutoff)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("sweeping " + dir + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
    }
}
