package dev.merit.store;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** What a commit's stored deltas cost, summed over tensors, for {@code merit show --json}. */
final class DeltaStats {

    private long tensors;
    private long entries;
    private long encodedBytes;
    private long positionBits;
    private long valueBits;
    private long denseF32Bytes;

    synchronized void add(StoredDeltas.Encoded e) {
        tensors++;
        entries += e.entries();
        encodedBytes += e.bytes().length;
        positionBits += e.stats().positionBits();
        valueBits += e.stats().valueBits();
        denseF32Bytes += e.stats().header().info().numel() * Float.BYTES;
    }

    synchronized ObjectNode toJson() {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("tensors", tensors);
        n.put("changed_entries", entries);
        n.put("encoded_bytes", encodedBytes);
        n.put("dense_f32_bytes", denseF32Bytes);
        n.put("position_bits", positionBits);
        n.put("value_bits", valueBits);
        n.put("position_bits_per_entry", entries == 0 ? 0 : (double) positionBits / entries);
        n.put("value_bits_per_entry", entries == 0 ? 0 : (double) valueBits / entries);
        return n;
    }
}
