package dev.merit.safetensors;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Builds safetensors files byte by byte, independently of {@link SafetensorsWriter}, for reader tests. */
final class RawFiles {

    private RawFiles() {}

    /** The 8-byte little-endian length, {@code header} as UTF-8, then {@code data}. */
    static byte[] bytes(String header, byte[] data) {
        return bytes(header.getBytes(StandardCharsets.UTF_8), data);
    }

    static byte[] bytes(byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(header.length).put(header).put(data);
        return b.array();
    }

    static Path write(Path path, String header, byte[] data) {
        return write(path, bytes(header, data));
    }

    static Path write(Path path, byte[] content) {
        try {
            return Files.write(path, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Little-endian bytes of the longs {@code 8 * values.length} long. */
    static byte[] longLength(long value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(value).array();
    }
}
