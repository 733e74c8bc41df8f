package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.delta.ChangeStats;
import dev.merit.delta.ChangeSummary;
import dev.merit.safetensors.Safetensors;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import java.nio.file.Path;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "status", header = "Show what 'commit FILE' would record against HEAD.")
final class StatusCommand extends BaseCommand {

    @Parameters(index = "0", paramLabel = "FILE", description = "The safetensors file you would commit.")
    Path file;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    int run() throws Exception {
        try (Repository repo = openRepositoryForReading(); TensorSource after = Safetensors.open(existingFile(file))) {
            Optional<dev.merit.store.ObjectId> head = repo.head();
            try (TensorSource before = head.isPresent() ? repo.openVersion(head.get()) : Sources.empty()) {
                ChangeSummary s = ChangeStats.compare(before, after);
                if (json) {
                    ObjectNode n = ChangeReport.toJson(s);
                    n.put("branch", repo.currentBranch());
                    n.put("head", head.map(Object::toString).orElse(null));
                    n.put("file", file.toString());
                    n.put("identical", s.identical());
                    printJson(n);
                    return ExitCode.OK;
                }
                out().println("On branch " + repo.currentBranch()
                        + head.map(h -> " at " + h.abbreviate(12)).orElse(" (no commits yet)"));
                if (s.identical()) {
                    out().println("nothing to commit: " + file + " is identical to HEAD");
                } else {
                    ChangeReport.print(s, out(), true);
                }
            }
        }
        return ExitCode.OK;
    }
}
