package dev.merit.coordinator.harden;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.merit.error.InvalidInputException;
import dev.merit.proto.v1.ObjectPiece;
import dev.merit.proto.v1.ObjectType;
import dev.merit.store.ObjectId;
import dev.merit.store.ObjectKind;
import dev.merit.wire.ObjectPieces;
import dev.merit.wire.WireConvert;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A publish (or fetch) stream's declared object size does not make the receiver allocate it:
 * memory follows the bytes that arrive. Before the fix the first piece of an object declared at
 * 1 GiB allocated 1 GiB at once, so a few hostile streams could exhaust the coordinator's heap.
 */
class PieceAllocationTest {

    private static long allocatedByThisThread() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @Test
    void aHugeDeclaredSizeAllocatesOnlyWhatArrives() {
        List<byte[]> done = new ArrayList<>();
        ObjectPieces.Assembler in = new ObjectPieces.Assembler((k, id, b) -> done.add(b));
        ObjectPiece liar = ObjectPiece.newBuilder().setType(ObjectType.CHUNK).setId(WireConvert.id(ObjectId.fromRaw(new byte[32])))
                .setSize(1L << 30).setOffset(0).setData(ByteString.copyFrom(new byte[10])).build();
        long before = allocatedByThisThread();
        in.accept(liar);
        long used = allocatedByThisThread() - before;
        assertTrue(used < 8L << 20, "allocated " + used + " bytes for a 10-byte piece of an object declared at 1 GiB");
        InvalidInputException e = assertThrows(InvalidInputException.class, in::finish);
        assertTrue(e.getMessage().endsWith("ended after 10 of 1073741824 bytes"), e.getMessage());
        assertTrue(done.isEmpty());
    }

    @Test
    void objectsOfSeveralPiecesStillArriveWhole() {
        byte[] object = new byte[(3 << 20) + 12345];
        new SplittableRandom(7).nextBytes(object);
        ObjectId id = ObjectId.fromRaw(new byte[32]);
        List<byte[]> done = new ArrayList<>();
        ObjectPieces.Assembler in = new ObjectPieces.Assembler((k, i, b) -> {
            assertEquals(ObjectKind.DELTA, k);
            done.add(b);
        });
        List<ObjectPiece> pieces = ObjectPieces.split(ObjectKind.DELTA, id, object);
        assertEquals(4, pieces.size());
        pieces.forEach(in::accept);
        in.finish();
        assertEquals(1, done.size());
        assertArrayEquals(object, done.getFirst());

        ObjectPieces.Assembler over = new ObjectPieces.Assembler((k, i, b) -> done.add(b));
        over.accept(pieces.get(0).toBuilder().setSize(10).setData(ByteString.copyFrom(new byte[6])).build());
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> over.accept(pieces.get(0).toBuilder().setSize(10).setOffset(6).setData(ByteString.copyFrom(new byte[5])).build()));
        assertTrue(e.getMessage().endsWith("more than its declared 10 bytes"), e.getMessage());
    }
}
