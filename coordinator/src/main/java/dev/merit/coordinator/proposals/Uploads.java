package dev.merit.coordinator.proposals;

import dev.merit.coordinator.CoordinatorException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Payload bytes of uploads in progress, one file per upload id under {@code dir}. A cut stream
 * leaves its file behind; its length is the offset the client resumes from. Each upload is
 * written by one stream at a time.
 */
public final class Uploads {

    private final Path dir;
    private final Set<String> active = ConcurrentHashMap.newKeySet();

    public Uploads(Path dir) {
        this.dir = dir;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + dir + ": " + e.getMessage(), e);
        }
    }

    private Path file(String uploadId) {
        if (!uploadId.matches("[0-9a-f]{64}")) {
            throw new dev.merit.error.InvalidInputException("upload id '" + uploadId + "' is not a SHA-256 hex digest");
        }
        return dir.resolve(uploadId + ".part");
    }

    /** Durably held bytes of an upload, or -1 if there is none. */
    public long offset(String uploadId) {
        Path f = file(uploadId);
        try {
            return Files.exists(f) ? Files.size(f) : -1;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An open upload: the file, truncated to {@code resumeOffset} (the client re-sends the rest). */
    public final class Upload implements AutoCloseable {
        private final String id;
        private final FileChannel channel;
        private boolean closed;

        private Upload(String id, FileChannel channel) {
            this.id = id;
            this.channel = channel;
        }

        public void append(byte[] data) {
            try {
                ByteBuffer b = ByteBuffer.wrap(data);
                while (b.hasRemaining()) {
                    channel.write(b);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("upload " + id + ": " + e.getMessage(), e);
            }
        }

        /** Forces written bytes to disk, so the offset a client is told survives a crash. */
        public void sync() {
            try {
                channel.force(false);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** Reads {@code len} bytes at {@code at}. */
        public byte[] read(long at, int len) {
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
                Files.deleteIfExists(file(id));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                active.remove(id);
                try {
                    channel.close();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
    }

    /**
     * Opens an upload for one stream. A new upload ({@code resumeOffset} 0) starts empty; a resumed
     * one must not claim more bytes than are held.
     */
    public Upload open(String uploadId, long resumeOffset) {
        Path f = file(uploadId);
        if (!active.add(uploadId)) {
            throw new CoordinatorException(CoordinatorException.Kind.ABORTED, "upload " + uploadId.substring(0, 12)
                    + " is being written by another stream; retry when it ends");
        }
        try {
            long held = Files.exists(f) ? Files.size(f) : 0;
            if (resumeOffset < 0 || resumeOffset > held) {
                throw new CoordinatorException(CoordinatorException.Kind.FAILED_PRECONDITION, "cannot resume upload "
                        + uploadId.substring(0, 12) + " at offset " + resumeOffset + ": the coordinator holds " + held + " bytes");
            }
            FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            ch.truncate(resumeOffset);
            ch.position(resumeOffset);
            return new Upload(uploadId, ch);
        } catch (IOException e) {
            active.remove(uploadId);
            throw new UncheckedIOException("upload " + uploadId + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            active.remove(uploadId);
            throw e;
        }
    }
}
