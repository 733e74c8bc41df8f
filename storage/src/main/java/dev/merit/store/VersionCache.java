package dev.merit.store;

import dev.merit.safetensors.SafetensorsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * Versions materialized into {@code .merit/cache}, so comparisons and merges read a model through
 * the page cache instead of the store. The files are written without fsync (a new head per merge
 * would otherwise cost a full synced write of the model); instead each file's size and CRC32C
 * go to a small {@code .check} file beside it, and a file is checked against them the first time
 * this process opens it, so one torn by a crash is rebuilt rather than trusted. Nothing here
 * writes to the store: reading a version never changes what is stored.
 */
final class VersionCache {

    /** Versions kept; the least recently used go first. */
    static final int KEEP = 2;
    private static final long CRC_WINDOW = 1L << 30;

    private final Path dir;
    private final Materializer materializer;
    private final Set<String> verified = ConcurrentHashMap.newKeySet();

    VersionCache(Path dir, Materializer materializer) {
        this.dir = dir;
        this.materializer = materializer;
    }

    /** Opens cache file {@code name}, materializing {@code manifest} into it first if needed. */
    synchronized SafetensorsFile open(String name, Supplier<Manifest> manifest) {
        Path file = dir.resolve(name);
        try {
            Files.createDirectories(dir);
            if (Files.exists(file) && (verified.contains(name) || intact(name, file))) {
                Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis()));
            } else {
                materializer.write(manifest.get(), file, ProgressListener.NONE, false);
                record(name, file);
                evict(file);
            }
            verified.add(name);
        } catch (IOException e) {
            throw new UncheckedIOException("cache " + dir + ": " + e.getMessage(), e);
        }
        return SafetensorsFile.open(file);
    }

    private boolean intact(String name, Path file) throws IOException {
        Path check = checkFile(name);
        if (!Files.exists(check) || Files.size(check) != 16) {
            return false;
        }
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(check));
        return Files.size(file) == b.getLong() && crc(file) == b.getLong();
    }

    private void record(String name, Path file) throws IOException {
        Files.write(checkFile(name), ByteBuffer.allocate(16).putLong(Files.size(file)).putLong(crc(file)).array());
    }

    private Path checkFile(String name) {
        return dir.resolve(name + ".check");
    }

    private static long crc(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            for (long off = 0; off < size; off += CRC_WINDOW) {
                crc.update(ch.map(FileChannel.MapMode.READ_ONLY, off, Math.min(CRC_WINDOW, size - off)));
            }
        }
        return crc.getValue();
    }

    private void evict(Path keep) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.toString().endsWith(".safetensors") && !p.equals(keep))
                    .sorted(Comparator.comparing((Path p) -> p.toFile().lastModified()).reversed()).toList();
        }
        for (int i = KEEP - 1; i < files.size(); i++) {
            String name = files.get(i).getFileName().toString();
            Files.deleteIfExists(checkFile(name));
            Files.deleteIfExists(files.get(i));
            verified.remove(name);
        }
    }
}
