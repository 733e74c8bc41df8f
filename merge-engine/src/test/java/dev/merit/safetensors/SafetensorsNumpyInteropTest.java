package dev.merit.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.tensor.TensorInfo;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files written by an independent numpy writer read correctly, and what Merit writes back parses identically there. */
class SafetensorsNumpyInteropTest {

    @TempDir
    Path dir;

    private String python(String... args) throws Exception {
        Path script = dir.resolve("numpy_safetensors.py");
        if (Files.notExists(script)) {
            try (InputStream in = getClass().getResourceAsStream("numpy_safetensors.py")) {
                Files.copy(in, script);
            }
        }
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", script.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("python timed out");
        }
        assertEquals(0, p.exitValue(), "python3 " + String.join(" ", args) + ": " + out);
        return out;
    }

    @Test
    void readsNumpyWrittenFileAndWritesItBackIdentically() throws Exception {
        Path file = dir.resolve("np.safetensors");
        Path expected = dir.resolve("expected.json");
        python("write", file.toString(), expected.toString());
        JsonNode want = SafetensorsFile.JSON.readTree(expected.toFile());
        Path copy = dir.resolve("copy.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "np", "source", "numpy"), f.metadata());
            assertEquals(want.size(), f.tensors().size());
            for (TensorInfo t : f.tensors()) {
                JsonNode w = want.get(t.name());
                assertEquals(w.get("dtype").asText(), t.dtype().safetensorsName(), t.name());
                long[] shape = new long[w.get("shape").size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = w.get("shape").get(i).asLong();
                }
                assertEquals(TensorInfo.of(t.name(), t.dtype(), shape), t);
                JsonNode values = w.get("values");
                assertEquals(values.size(), t.numel(), t.name());
                for (int i = 0; i < values.size(); i++) {
                    double v = t.dtype().getDouble(f.data(t.name()), i);
                    assertEquals(Double.doubleToLongBits(values.get(i).asDouble()), Double.doubleToLongBits(v),
                            t.name() + "[" + i + "]: " + values.get(i).asDouble() + " vs " + v);
                }
            }
            SafetensorsWriter.write(f, copy);
        }
        python("check", file.toString(), copy.toString());
    }
}
