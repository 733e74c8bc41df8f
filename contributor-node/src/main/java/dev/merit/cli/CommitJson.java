package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;

/** The JSON form of a commit shared by log and show. */
final class CommitJson {

    private CommitJson() {}

    static ObjectNode of(ObjectId id, Commit c) {
        ObjectNode n = BaseCommand.JSON.createObjectNode();
        n.put("id", id.name());
        ArrayNode ps = n.putArray("parents");
        c.parents().forEach(p -> ps.add(p.name()));
        n.put("author", c.author());
        n.put("time", c.time().toString());
        n.put("message", c.message());
        n.put("manifest", c.manifest().name());
        n.put("fisher", c.fisher().map(ObjectId::name).orElse(null));
        n.put("gram", c.gram().map(ObjectId::name).orElse(null));
        n.put("stored_bytes", c.storedBytes());
        n.set("provenance", c.provenance());
        return n;
    }
}
