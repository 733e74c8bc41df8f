package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "log", header = "Show the history of a revision (default HEAD).")
final class LogCommand extends BaseCommand {

    @Parameters(arity = "0..1", paramLabel = "REV", description = "Where the history starts.")
    String rev = "HEAD";

    @Option(names = "--oneline", description = "One line per commit.")
    boolean oneline;

    @Option(names = {"-n", "--max-count"}, paramLabel = "N", description = "Show at most N commits.")
    int max = Integer.MAX_VALUE;

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    int run() throws Exception {
        try (Repository repo = openRepositoryForReading()) {
            List<Map.Entry<ObjectId, Commit>> log = repo.log(repo.resolve(rev), max);
            if (json) {
                ObjectNode root = JSON.createObjectNode();
                ArrayNode arr = root.putArray("commits");
                for (var e : log) {
                    arr.add(CommitJson.of(e.getKey(), e.getValue()));
                }
                printJson(root);
                return ExitCode.OK;
            }
            for (var e : log) {
                Commit c = e.getValue();
                if (oneline) {
                    out().println(e.getKey().abbreviate(12) + " " + firstLine(c.message()));
                    continue;
                }
                out().println("commit " + e.getKey().name());
                if (c.parents().size() > 1) {
                    out().println("Merge:  " + String.join(" ", c.parents().stream().map(p -> p.abbreviate(12)).toList()));
                }
                out().println("Author: " + c.author());
                out().println("Date:   " + c.time());
                out().println();
                c.message().lines().forEach(l -> out().println("    " + l));
                out().println();
            }
        }
        return ExitCode.OK;
    }

    static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
