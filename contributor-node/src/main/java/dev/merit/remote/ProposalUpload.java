package dev.merit.remote;

import dev.merit.wire.ProposalSpec;
import java.util.List;

/**
 * A signed proposal ready to send: its header and its payload, one byte array per section
 * (each tensor's encoded delta, then its Fisher when there is one) in header order.
 */
public record ProposalUpload(ProposalSpec spec, List<byte[]> sections) {

    public ProposalUpload {
        sections = List.copyOf(sections);
    }

    public long payloadBytes() {
        return spec.payloadBytes();
    }
}
