package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.delta.ChangeStats;
import dev.merit.delta.ChangeSummary;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "diff", header = "Compare two versions: REV1 with REV2, with a FILE, or (alone) with HEAD.",
        description = "Per tensor: changed entries and their fraction, L2 norm of the change, change norm relative "
                + "to the tensor's norm, and max |change|.")
final class DiffCommand extends BaseCommand {

    @Parameters(index = "0", paramLabel = "REV1", description = "The older version.")
    String from;

    @Parameters(index = "1", arity = "0..1", paramLabel = "REV2|FILE", description = "The newer version, or a safetensors file.")
    String to = "HEAD";

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Option(names = "--all", description = "List unchanged tensors too.")
    boolean all;

    @Override
    int run() throws Exception {
        try (Repository repo = openRepositoryForReading();
             TensorSource before = Sources.open(repo, workDir(), from);
             TensorSource after = Sources.open(repo, workDir(), to)) {
            ChangeSummary s = ChangeStats.compare(before, after);
            if (json) {
                ObjectNode n = ChangeReport.toJson(s);
                n.put("from", from);
                n.put("to", to);
                n.put("identical", s.identical());
                printJson(n);
            } else {
                ChangeReport.print(s, out(), !all);
            }
        }
        return ExitCode.OK;
    }
}
