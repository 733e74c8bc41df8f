package dev.merit.cli;

import dev.merit.store.GcReport;
import dev.merit.store.Repository;
import picocli.CommandLine.Command;

@Command(name = "gc", header = "Delete objects that no branch, tag or reflog entry reaches.")
final class GcCommand extends BaseCommand {

    @Override
    int run() {
        try (Repository repo = openRepository()) {
            GcReport r = repo.gc();
            out().println("removed " + r.removedObjects() + " unreachable objects (" + Format.bytes(r.removedBytes()) + ")");
        }
        return ExitCode.OK;
    }
}
