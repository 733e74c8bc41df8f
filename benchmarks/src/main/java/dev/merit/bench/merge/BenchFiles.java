package dev.merit.bench.merge;

import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.stream.LongStream;

/** Large random F32 safetensors files, written fast and in parallel, and helpers shared by the merge benchmarks. */
final class BenchFiles {

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private BenchFiles() {}

    /** Writes {@code path} unless it exists with this layout's size: values ~ U(-1, 1) * scale + offset. */
    static Path randomF32(Path path, List<TensorInfo> layout, long seed, float scale, float offset) {
        long bytes = layout.stream().mapToLong(TensorInfo::byteSize).sum();
        try {
            if (Files.exists(path) && Files.size(path) > bytes && Files.size(path) < bytes + 1_000_000) {
                return path;
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (SafetensorsWriter w = SafetensorsWriter.create(path, layout, Map.of())) {
            for (TensorInfo t : layout) {
                MemorySegment s = w.segment(t.name());
                long n = t.numel();
                long chunk = 1 << 20;
                long salt = seed * 0x9E3779B97F4A7C15L + t.name().hashCode();
                LongStream.range(0, (n + chunk - 1) / chunk).parallel().forEach(c -> {
                    long x = salt ^ (c + 1) * 0xbf58476d1ce4e5b9L;
                    for (long i = c * chunk; i < Math.min(n, (c + 1) * chunk); i++) {
                        x ^= x << 13;
                        x ^= x >>> 7;
                        x ^= x << 17;
                        s.setAtIndex(F32, i, ((x >>> 40) * 0x1p-24f * 2 - 1) * scale + offset);
                    }
                });
            }
            w.finish();
        }
        return path;
    }

    /** Layout of {@code count} square F32 matrices of side {@code side} plus a bias vector each. */
    static List<TensorInfo> layout(int count, int side) {
        List<TensorInfo> l = new java.util.ArrayList<>();
        for (int i = 0; i < count; i++) {
            l.add(TensorInfo.of("layers." + i + ".weight", DType.F32, side, side));
            l.add(TensorInfo.of("layers." + i + ".bias", DType.F32, side));
        }
        return l;
    }

    /** Reads every page of {@code files} so the runs that follow find them in the page cache. */
    static void warm(List<Path> files) {
        for (Path p : files) {
            try (Arena a = Arena.ofShared(); FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), a);
                long sum = LongStream.range(0, m.byteSize() / 4096).parallel()
                        .map(i -> m.get(ValueLayout.JAVA_BYTE, i * 4096)).sum();
                if (sum == 42) {
                    System.out.print("");
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    /** Best bytes/second of copying a {@code bytes}-byte native buffer with {@code threads} threads (bytes copied, each read once and written once). */
    static double copyBandwidth(long bytes, int threads, int reps) {
        try (Arena a = Arena.ofShared()) {
            MemorySegment src = a.allocate(bytes, 64);
            MemorySegment dst = a.allocate(bytes, 64);
            src.fill((byte) 1);
            dst.fill((byte) 2);
            double best = 0;
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                long part = bytes / threads;
                java.util.stream.IntStream.range(0, threads).parallel().forEach(k -> {
                    long len = k == threads - 1 ? bytes - k * part : part;
                    MemorySegment.copy(src, k * part, dst, k * part, len);
                });
                best = Math.max(best, bytes * 1e9 / (System.nanoTime() - t0));
            }
            return best;
        }
    }

    /** A field of /proc/self/status in kB, or -1. */
    static long statusKb(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.substring(field.length() + 1).trim().split("\\s+")[0]);
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
