package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.codec.ValueCoding;
import dev.merit.error.InvalidInputException;
import dev.merit.safetensors.Safetensors;
import dev.merit.store.CommitProvenance;
import dev.merit.store.CommitResult;
import dev.merit.store.Repository;
import dev.merit.store.Selection;
import dev.merit.tensor.TensorInfo;
import dev.merit.tensor.TensorSource;
import java.nio.file.Path;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "commit", header = "Record a model file as the next version of the current branch.",
        description = {
            "Without --density or --threshold the commit is lossless. With one of them only the selected",
            "entries of the change are kept: the version equals FILE there and the parent elsewhere."})
final class CommitCli extends BaseCommand {

    @Parameters(index = "0", paramLabel = "FILE", description = "safetensors file or *.safetensors.index.json")
    Path file;

    @Option(names = {"-m", "--message"}, required = true, description = "Commit message.")
    String message;

    @ArgGroup(exclusive = true)
    Sparsity sparsity;

    static final class Sparsity {
        @Option(names = "--density", paramLabel = "D",
                description = "Keep the D x (number of parameters) changed entries with the largest |change|, over all tensors.")
        Double density;

        @Option(names = "--threshold", paramLabel = "T", description = "Keep the entries with |change| > T.")
        Double threshold;
    }

    @Option(names = "--fisher", paramLabel = "FISHER_FILE",
            description = "Attach a diagonal Fisher (same tensor names and shapes as FILE) for Fisher-weighted merges.")
    Path fisher;

    @Option(names = "--gram", paramLabel = "GRAM_FILE",
            description = "Attach RegMean Gram matrices (one packed upper triangle per linear layer, named like its weight).")
    Path gram;

    @Option(names = "--values", paramLabel = "exact|fp16|bf16|int8", defaultValue = "exact",
            description = "How changed values are stored (default ${DEFAULT-VALUE}); lossy codings store the change, "
                    + "quantized, for floating-point tensors.")
    String values;

    @Option(names = "--low-rank", paramLabel = "R",
            description = "Store the change of each changed 2-D floating-point tensor as rank-R factors.")
    int lowRank;

    @Option(names = "--author", description = "Author (default: the user name).")
    String author;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    static ValueCoding parseValues(String v) {
        try {
            return ValueCoding.parse(v);
        } catch (IllegalArgumentException e) {
            throw new InvalidInputException("--values must be exact, fp16, bf16 or int8, got '" + v + "'");
        }
    }

    @Override
    int run() throws Exception {
        Selection selection = sparsity == null ? Selection.lossless()
                : sparsity.density != null ? Selection.density(sparsity.density)
                : Selection.threshold(sparsity.threshold);
        try (Repository repo = openRepository();
             TensorSource source = Safetensors.open(existingFile(file));
             TensorSource fisherSource = fisher == null ? null : Safetensors.open(existingFile(fisher));
             TensorSource gramSource = gram == null ? null : Safetensors.open(existingFile(gram))) {
            var cmd = repo.commit().setSource(source).setMessage(message).setSelection(selection)
                    .setFisher(fisherSource).setGram(gramSource).setProgress(progress(json))
                    .setValueCoding(parseValues(values)).setLowRank(lowRank);
            if (author != null) {
                cmd.setAuthor(author);
            }
            CommitResult r = cmd.call();
            long dense = source.tensors().stream().mapToLong(TensorInfo::byteSize).sum();
            if (json) {
                ObjectNode n = JSON.createObjectNode();
                n.put("commit", r.id().name());
                n.put("branch", repo.currentBranch());
                n.put("stored_bytes", r.commit().storedBytes());
                n.put("dense_bytes", dense);
                n.set("selection", r.commit().provenance().path("selection"));
                n.set("deltas", r.commit().provenance().path("deltas"));
                printJson(n);
                return ExitCode.OK;
            }
            out().printf("[%s %s] %s%n", repo.currentBranch(), r.id().abbreviate(12), r.commit().message());
            CommitProvenance prov = CommitProvenance.of(r.commit());
            long fisherBytes = prov.fisherBytes();
            long gramBytes = r.commit().provenance().path("gram_bytes").asLong(0);
            long modelBytes = r.commit().storedBytes() - fisherBytes - gramBytes;
            out().printf("stored %s (%s of the dense %s)%s%n", Format.bytes(modelBytes),
                    Format.percent(dense == 0 ? 0 : (double) modelBytes / dense), Format.bytes(dense),
                    (fisher == null ? "" : ", plus " + Format.bytes(fisherBytes) + " for the Fisher")
                    + (gram == null ? "" : ", plus " + Format.bytes(gramBytes) + " for the Gram matrices"));
            prov.selection().filter(sel -> sel.keptNormFraction().isPresent()).ifPresent(sel -> out().printf(
                    "kept %d changed entries carrying %s of the change's L2 norm%n",
                    sel.keptEntries(), Format.percent(sel.keptNormFraction().getAsDouble())));
        }
        return ExitCode.OK;
    }
}
