package dev.merit.wire;

import com.google.protobuf.ByteString;
import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.ObjectPiece;
import dev.merit.proto.v1.ObjectType;
import dev.merit.store.ObjectId;
import dev.merit.store.ObjectKind;
import java.util.ArrayList;
import java.util.List;

/**
 * Stored objects on the wire: split into pieces of at most {@value #PIECE} bytes, and put back
 * together on the other side (one object at a time, pieces in order), so no message nears gRPC's
 * 4 MiB limit whatever the object's size. Used by both the coordinator and the client.
 */
public final class ObjectPieces {

    public static final int PIECE = 1 << 20;
    /** Largest object accepted, so a hostile size cannot make the receiver allocate without bound. */
    static final long MAX_OBJECT = 1L << 30;

    private ObjectPieces() {}

    public static List<ObjectPiece> split(ObjectKind kind, ObjectId id, byte[] bytes) {
        List<ObjectPiece> out = new ArrayList<>();
        int at = 0;
        do {
            int n = Math.min(PIECE, bytes.length - at);
            out.add(ObjectPiece.newBuilder().setType(type(kind)).setId(WireConvert.id(id)).setSize(bytes.length).setOffset(at)
                    .setData(ByteString.copyFrom(bytes, at, n)).build());
            at += n;
        } while (at < bytes.length);
        return out;
    }

    public static ObjectType type(ObjectKind k) {
        return switch (k) {
            case CHUNK -> ObjectType.CHUNK;
            case DELTA -> ObjectType.DELTA;
            case MANIFEST -> ObjectType.MANIFEST;
            case COMMIT -> ObjectType.COMMIT;
        };
    }

    public static ObjectKind kind(ObjectType t) {
        return switch (t) {
            case CHUNK -> ObjectKind.CHUNK;
            case DELTA -> ObjectKind.DELTA;
            case MANIFEST -> ObjectKind.MANIFEST;
            case COMMIT -> ObjectKind.COMMIT;
            default -> throw new InvalidInputException("unknown object type " + t);
        };
    }

    /** Receives pieces and hands each completed object to its consumer. Not thread-safe. */
    public static final class Assembler {

        /** Gets each object once all its bytes arrived. */
        public interface Sink {
            void object(ObjectKind kind, ObjectId id, byte[] bytes);
        }

        private final Sink sink;
        private ObjectId current;
        private ObjectKind kind;
        private byte[] buf;
        private long declared;
        private int filled;
        private long objects;
        private long bytes;

        public Assembler(Sink sink) {
            this.sink = sink;
        }

        public void accept(ObjectPiece p) {
            ObjectId id = WireConvert.id(p.getId());
            if (current == null) {
                if (p.getOffset() != 0) {
                    throw new InvalidInputException("object " + id.abbreviate(12) + ": first piece at offset " + p.getOffset());
                }
                if (p.getSize() < 0 || p.getSize() > MAX_OBJECT) {
                    throw new InvalidInputException("object " + id.abbreviate(12) + ": size " + p.getSize() + " out of range");
                }
                current = id;
                kind = kind(p.getType());
                declared = p.getSize();
                // Grown as bytes arrive: a declared size alone must not make the receiver allocate it.
                buf = new byte[(int) Math.min(declared, PIECE)];
                filled = 0;
            } else if (!current.equals(id) || p.getOffset() != filled) {
                throw new InvalidInputException("object " + current.abbreviate(12) + ": piece of " + id.abbreviate(12)
                        + " at offset " + p.getOffset() + " arrived before it was complete (" + filled + " of " + declared + " bytes)");
            }
            if (filled + (long) p.getData().size() > declared) {
                throw new InvalidInputException("object " + id.abbreviate(12) + ": more than its declared " + declared + " bytes");
            }
            if (filled + p.getData().size() > buf.length) {
                buf = java.util.Arrays.copyOf(buf, (int) Math.min(declared, Math.max(filled + p.getData().size(), 2L * buf.length)));
            }
            p.getData().copyTo(buf, filled);
            filled += p.getData().size();
            bytes += p.getData().size();
            if (filled == declared) {
                ObjectId done = current;
                byte[] b = buf;
                current = null;
                buf = null;
                objects++;
                sink.object(kind, done, b);
            }
        }

        /** Throws if an object was left half-received. */
        public void finish() {
            if (current != null) {
                throw new InvalidInputException("object " + current.abbreviate(12) + " ended after " + filled + " of " + declared + " bytes");
            }
        }

        public long objects() {
            return objects;
        }

        public long bytes() {
            return bytes;
        }
    }
}
