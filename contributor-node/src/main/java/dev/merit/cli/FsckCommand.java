package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.store.FsckReport;
import dev.merit.store.Repository;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "fsck", header = "Re-hash every reachable object; report corrupted and missing ones (exit 1 if any).")
final class FsckCommand extends BaseCommand {

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    int run() throws Exception {
        try (Repository repo = openRepository()) {
            FsckReport r = repo.fsck(dev.merit.store.ProgressListener.NONE);
            if (json) {
                ObjectNode n = JSON.createObjectNode();
                n.put("checked_objects", r.checked());
                n.put("ok", r.ok());
                var arr = n.putArray("problems");
                r.problems().forEach(arr::add);
                printJson(n);
            } else {
                r.problems().forEach(p -> out().println(p));
                out().println("checked " + r.checked() + " objects: " + (r.ok() ? "ok" : r.problems().size() + " problem(s)"));
            }
            return r.ok() ? ExitCode.OK : ExitCode.FAILURE;
        }
    }
}
