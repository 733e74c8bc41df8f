package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCliTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] FILES = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

    @TempDir
    Path dir;
    Path data;
    CliRunner cli;

    /** The bundled Fashion-MNIST subset as plain files, so an independent program can read the same data. */
    @BeforeEach
    void setUp() throws Exception {
        data = Files.createDirectories(dir.resolve("data"));
        for (String f : FILES) {
            try (InputStream in = dev.merit.train.data.DataDir.class.getResourceAsStream("fashion-mnist-subset/" + f)) {
                Files.copy(in, data.resolve(f));
            }
        }
        cli = new CliRunner(Files.createDirectories(dir.resolve("repo")));
    }

    private JsonNode json(CliRunner.Result r) throws Exception {
        assertEquals(0, r.exitCode(), r.toString());
        return JSON.readTree(r.out());
    }

    @Test
    void initTrainEvalAndAnIndependentEvaluationAgree() throws Exception {
        assertEquals(0, cli.run("init", "--model", "mlp:784-64-10", "--seed", "3").exitCode());
        JsonNode base = json(cli.run("eval", "--data", data.toString(), "--json"));
        JsonNode t = json(cli.run("train", "--data", data.toString(), "--shard", "iid:2:0", "--steps", "150",
                "--density", "0.05", "--lr", "0.2", "--regmean", "-m", "round 1", "--json"));
        assertEquals(150, t.path("steps").asInt());
        assertEquals(Math.round(0.05 * (784 * 64 + 64 + 64 * 10 + 10)), t.path("changed_entries").asLong(), t.toString());
        assertTrue(t.path("gram_bytes").asLong() > 0 && t.path("fisher_bytes").asLong() > 0, t.toString());
        JsonNode after = json(cli.run("eval", "--data", data.toString(), "--json"));
        assertTrue(after.path("accuracy").asDouble() > base.path("accuracy").asDouble() + 0.1, base + " -> " + after);

        assertEquals(0, cli.run("checkout", "HEAD", "-o", "model.safetensors").exitCode());
        Path model = dir.resolve("repo/model.safetensors");
        JsonNode merit = json(cli.run("eval", "model.safetensors", "--data", data.toString(), "--json"));
        double[] numpy = numpyEvaluation(model, data);
        assertEquals(numpy[0], merit.path("accuracy").asDouble(), 0.001, "accuracy: numpy vs merit eval");
        assertEquals(numpy[1], merit.path("mean_loss").asDouble(), 1e-3, "mean loss: numpy vs merit eval");

        JsonNode val = json(cli.run("eval", "--data", data.toString(), "--split", "val", "--json"));
        assertEquals(1000, val.path("examples").asInt());
    }

    @Test
    void missingOrCorruptDataIsOneLineAndExit4() throws Exception {
        assertEquals(0, cli.run("init", "--model", "mlp:784-16-10").exitCode());
        Path empty = Files.createDirectories(dir.resolve("empty"));
        CliRunner.Result missing = cli.run("train", "--data", empty.toString(), "-m", "x");
        assertEquals(4, missing.exitCode(), missing.toString());
        assertTrue(missing.err().contains("train-images-idx3-ubyte(.gz): no such file"), missing.err());
        assertEquals(1, missing.err().strip().lines().count(), missing.err());

        Files.write(empty.resolve("t10k-images-idx3-ubyte.gz"), "not gzip".getBytes(StandardCharsets.UTF_8));
        Files.copy(data.resolve("t10k-labels-idx1-ubyte.gz"), empty.resolve("t10k-labels-idx1-ubyte.gz"));
        CliRunner.Result corrupt = cli.run("eval", "--data", empty.toString());
        assertEquals(4, corrupt.exitCode(), corrupt.toString());
        assertTrue(corrupt.err().contains("t10k-images-idx3-ubyte"), corrupt.err());
        assertEquals(1, corrupt.err().strip().lines().count(), corrupt.err());

        CliRunner.Result badSpec = cli.run("init", "--model", "mlp:784-x", dir.resolve("other").toString());
        assertEquals(4, badSpec.exitCode(), badSpec.toString());
        assertTrue(badSpec.err().contains("model spec 'mlp:784-x'"), badSpec.err());
    }

    /** Accuracy and mean loss of an MLP safetensors file on the test images, computed by numpy. */
    private static double[] numpyEvaluation(Path model, Path data) throws Exception {
        String script = String.join("\n",
                "import gzip, json, struct, sys",
                "import numpy as np",
                "raw = open(sys.argv[1], 'rb').read()",
                "n = struct.unpack('<Q', raw[:8])[0]",
                "header = json.loads(raw[8:8 + n])",
                "body = raw[8 + n:]",
                "t = {}",
                "for name, h in header.items():",
                "    if name == '__metadata__': continue",
                "    a, b = h['data_offsets']",
                "    t[name] = np.frombuffer(body[a:b], dtype='<f4').reshape(h['shape']).astype(np.float64)",
                "img = gzip.open(sys.argv[2] + '/t10k-images-idx3-ubyte.gz').read()",
                "lab = gzip.open(sys.argv[2] + '/t10k-labels-idx1-ubyte.gz').read()",
                "count = struct.unpack('>I', img[4:8])[0]",
                "x = np.frombuffer(img[16:], dtype=np.uint8).reshape(count, -1).astype(np.float64) / 255.0",
                "y = np.frombuffer(lab[8:], dtype=np.uint8).astype(np.int64)",
                "h = np.maximum(x @ t['0.weight'].T + t['0.bias'], 0)",
                "z = h @ t['2.weight'].T + t['2.bias']",
                "z = z - z.max(axis=1, keepdims=True)",
                "logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))",
                "print((z.argmax(axis=1) == y).mean(), -logp[np.arange(count), y].mean())");
        Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, model.toString(), data.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python3 timed out");
        assertEquals(0, p.exitValue(), "python3 with numpy (Debian python3-numpy) failed: " + out);
        String[] f = out.strip().split("\\s+");
        return new double[] {Double.parseDouble(f[0]), Double.parseDouble(f[1])};
    }
}
