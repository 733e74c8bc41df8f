package dev.merit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The contributor's code keeps to its side of the wire: the CLI speaks in domain records (no
 * protobuf or gRPC types), and nothing in the contributor's main code reaches into the
 * coordinator. Read from the sources' import lines, so a violation names the file and line.
 */
class DependencyRulesTest {

    private static final Path MAIN = Path.of("src/main/java/dev/merit");

    @Test
    void theCliImportsNoWireTypes() throws IOException {
        List<String> found = imports(MAIN.resolve("cli"), i -> i.startsWith("dev.merit.proto.") || i.startsWith("com.google.protobuf.")
                || i.startsWith("io.grpc."));
        assertEquals(List.of(), found, "the CLI gets domain records from dev.merit.remote, not wire messages");
    }

    @Test
    void contributorCodeImportsNothingFromTheCoordinator() throws IOException {
        List<String> found = imports(MAIN, i -> i.startsWith("dev.merit.coordinator."));
        assertEquals(List.of(), found, "the contributor's classpath must not need the coordinator (merit serve runs from its own)");
    }

    /** Every import (or fully qualified use) matching {@code banned}, as "file:line: import". */
    private static List<String> imports(Path root, Predicate<String> banned) throws IOException {
        assertTrue(Files.isDirectory(root), "run from the module directory; no " + root.toAbsolutePath());
        List<String> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                List<String> lines = Files.readAllLines(f);
                for (int n = 0; n < lines.size(); n++) {
                    String l = lines.get(n).strip();
                    String name = l.startsWith("import ") ? l.substring(7).replace("static ", "").replace(";", "").strip() : null;
                    if (name != null ? banned.test(name) : qualifiedUse(l, banned)) {
                        out.add(root.relativize(f) + ":" + (n + 1) + ": " + l);
                    }
                }
            }
        }
        return out;
    }

    /** Catches fully qualified names in code, such as {@code dev.merit.proto.v1.Role.READER}. */
    private static boolean qualifiedUse(String line, Predicate<String> banned) {
        if (line.startsWith("*") || line.startsWith("//") || line.startsWith("/*")) {
            return false;
        }
        for (String token : line.split("[^A-Za-z0-9_.]+")) {
            if (token.startsWith("dev.merit.") || token.startsWith("io.grpc.") || token.startsWith("com.google.")) {
                if (banned.test(token)) {
                    return true;
                }
            }
        }
        return false;
    }
}
