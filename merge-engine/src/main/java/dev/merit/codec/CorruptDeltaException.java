package dev.merit.codec;

import dev.merit.error.InvalidInputException;
import java.util.Objects;

/**
 * An encoded delta that cannot be decoded: truncated, corrupted, hostile or beyond the decoder's
 * limits. The {@link #reason()} lets callers (the coordinator's validation, gRPC status details)
 * react without parsing the message; the message names the field, tensor or offset.
 */
public class CorruptDeltaException extends InvalidInputException {

    /** What was wrong with the input. */
    public enum Reason {
        /** The input ends before the declared data does. */
        TRUNCATED,
        /** Bytes remain after the declared end of the delta. */
        TRAILING_DATA,
        /** The input does not start with the delta magic. */
        BAD_MAGIC,
        /** The format version is not one this decoder knows. */
        UNSUPPORTED_VERSION,
        /** A chunk's length or checksum is wrong. */
        BAD_CHUNK,
        /** A header field is malformed or inconsistent (dtype, shape, enum code, varint). */
        BAD_HEADER,
        /** A count or length exceeds the tensor or the decoder's limits. */
        LIMIT_EXCEEDED,
        /** The header does not describe the tensor the caller expected. */
        LAYOUT_MISMATCH,
        /** A position lies outside the tensor, or the position stream is malformed. */
        BAD_POSITIONS,
        /** The value stream is malformed (length, scale). */
        BAD_VALUES,
        /** A compressed section does not decompress to its declared size. */
        BAD_COMPRESSION,
        /** The delta reuses a mask the receiver does not have. */
        UNKNOWN_MASK
    }

    private final Reason reason;

    public CorruptDeltaException(Reason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public CorruptDeltaException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    public Reason reason() {
        return reason;
    }
}
