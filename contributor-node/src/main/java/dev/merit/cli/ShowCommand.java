package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.delta.ChangeStats;
import dev.merit.delta.ChangeSummary;
import dev.merit.store.Commit;
import dev.merit.store.CommitProvenance;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "show", header = "Show a commit: its metadata, what it changed, and the bytes it added to the store.")
final class ShowCommand extends BaseCommand {

    @Parameters(arity = "0..1", paramLabel = "REV", description = "The commit to show.")
    String rev = "HEAD";

    @Option(names = "--json", description = "Print one JSON document.")
    boolean json;

    @Override
    int run() throws Exception {
        try (Repository repo = openRepositoryForReading()) {
            ObjectId id = repo.resolve(rev);
            Commit c = repo.readCommit(id);
            long dense = repo.manifestOf(id).tensors().stream().mapToLong(e -> e.info().byteSize()).sum();
            long added = c.storedBytes() + repo.objectSize(id);
            ChangeSummary s;
            try (TensorSource after = repo.openVersion(id);
                 TensorSource before = c.parents().isEmpty() ? Sources.empty() : repo.openVersion(c.parents().get(0))) {
                s = ChangeStats.compare(before, after);
            }
            if (json) {
                ObjectNode n = CommitJson.of(id, c);
                n.put("added_bytes", added);
                n.put("dense_bytes", dense);
                n.put("added_fraction_of_dense", dense == 0 ? 0 : (double) added / dense);
                n.set("changes", ChangeReport.toJson(s));
                printJson(n);
                return ExitCode.OK;
            }
            out().println("commit " + id.name());
            if (!c.parents().isEmpty()) {
                out().println("Parents: " + String.join(" ", c.parents().stream().map(p -> p.abbreviate(12)).toList()));
            }
            out().println("Author:  " + c.author());
            out().println("Date:    " + c.time());
            c.fisher().ifPresent(f -> out().println("Fisher:  attached"));
            c.gram().ifPresent(g -> out().println("Gram:    attached (RegMean statistics)"));
            out().println();
            c.message().lines().forEach(l -> out().println("    " + l));
            out().println();
            out().printf("added %s to the store (%s of the dense model, %s)%n", Format.bytes(added),
                    Format.percent(dense == 0 ? 0 : (double) added / dense), Format.bytes(dense));
            CommitProvenance prov = CommitProvenance.of(c);
            prov.selection().ifPresent(sel -> out().println("selection: " + sel.mode()
                    + (sel.keptNormFraction().isPresent() ? ", kept " + Format.percent(sel.keptNormFraction().getAsDouble())
                    + " of the change's L2 norm" : "")));
            prov.deltas().filter(d -> d.tensors() > 0).ifPresent(d -> out().printf(
                    "deltas: %d tensors, %d entries, %s encoded (dense float32: %s, %.0fx smaller); "
                            + "%.2f bits per entry on positions, %.2f on values%n",
                    d.tensors(), d.changedEntries(), Format.bytes(d.encodedBytes()), Format.bytes(d.denseF32Bytes()),
                    (double) d.denseF32Bytes() / Math.max(1, d.encodedBytes()), d.positionBitsPerEntry(), d.valueBitsPerEntry()));
            out().println();
            ChangeReport.print(s, out(), true);
        }
        return ExitCode.OK;
    }
}
