package dev.merit.store;

import java.nio.charset.StandardCharsets;

/**
 * The kinds of stored object. Each kind lives in its own RocksDB column family and its id is
 * SHA-256 over a kind tag followed by the payload, so equal bytes of different kinds never share an id.
 */
public enum ObjectKind {
    /** A slice (at most {@link Repository#CHUNK_BYTES}) of a tensor's raw bytes. */
    CHUNK("chunks"),
    /** An encoded sparse change to one tensor. */
    DELTA("deltas"),
    /** A version's table of tensors: for each, its keyframe chunks and the deltas on top. */
    MANIFEST("manifests"),
    /** Parents, manifest, author, message, provenance. */
    COMMIT("commits");

    private final String columnFamily;
    private final byte[] tag;

    ObjectKind(String columnFamily) {
        this.columnFamily = columnFamily;
        this.tag = ("merit-" + name().toLowerCase() + "\0").getBytes(StandardCharsets.US_ASCII);
    }

    String columnFamily() {
        return columnFamily;
    }

    byte[] tag() {
        return tag;
    }
}
