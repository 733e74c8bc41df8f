package dev.merit.cli;

import java.io.IOException;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.Comparator;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.rocksdb.util.Environment;
import picocli.CommandLine;

/**
 * What the {@code ./merit} launcher runs once after a build so that later commands start fast
 * (the user's commands never run this):
 * <ul>
 *   <li>{@code unpack DIR}: copies RocksDB's native library for this platform out of its jar into
 *       DIR and records whether libc is musl, so a command neither extracts the library to a temp
 *       file nor starts {@code ldd} to probe libc (RocksDB does both on every start otherwise);</li>
 *   <li>{@code picocli JAR}: writes picocli's classes re-encoded as Java 8 class files (with stack
 *       maps) to JAR, which the launcher puts first on the class path. Picocli ships Java 5 class
 *       files, and the JVM keeps linked class files older than Java 6 out of an AOT cache, so without
 *       this every command would load and verify picocli from its jar again;</li>
 *   <li>{@code train}: runs the common commands in-process on a scratch repository, while the JVM
 *       records the classes they load into an AOT cache ({@code -XX:AOTCacheOutput}, JDK 25).</li>
 * </ul>
 */
public final class FastStart {

    private FastStart() {}

    public static void main(String[] args) throws IOException {
        if (args.length == 2 && args[0].equals("unpack")) {
            unpack(Path.of(args[1]));
        } else if (args.length == 2 && args[0].equals("picocli")) {
            upgradePicocli(Path.of(args[1]));
        } else if (args.length == 1 && args[0].equals("train")) {
            train();
        } else {
            System.err.println("usage: FastStart unpack DIR | picocli JAR | train");
            System.exit(ExitCode.USAGE);
        }
    }

    static void unpack(Path dir) throws IOException {
        String library = Environment.getJniLibraryFileName("rocksdb");
        Files.createDirectories(dir);
        try (InputStream in = org.rocksdb.RocksDB.class.getClassLoader().getResourceAsStream(library)) {
            if (in == null) {
                throw new IOException("the RocksDB jar has no " + library + " for this platform");
            }
            Path tmp = Files.createTempFile(dir, library, ".tmp");
            Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            Files.move(tmp, dir.resolve(library), StandardCopyOption.ATOMIC_MOVE);
        }
        Files.writeString(dir.resolve("musl"), Environment.isMuslLibc() + "\n");
    }

    /** Java 6 is the first class file version the JVM archives linked; 52 (Java 8) needs stack maps, which are generated. */
    static void upgradePicocli(Path out) throws IOException {
        Path jar;
        try {
            jar = Path.of(CommandLine.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IOException("cannot locate picocli's jar: " + e.getMessage(), e);
        }
        try (URLClassLoader picocli = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null)) {
            // Stack maps need the superclasses of picocli's own classes: read them from its jar.
            ClassFile classFile = ClassFile.of(ClassFile.ClassHierarchyResolverOption.of(
                    ClassHierarchyResolver.defaultResolver().orElse(ClassHierarchyResolver.ofResourceParsing(picocli))));
            ClassTransform toJava8 = ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
                    .andThen(ClassTransform.endHandler(b -> b.withVersion(ClassFile.JAVA_8_VERSION, 0)));
            Path tmp = Files.createTempFile(out.toAbsolutePath().getParent(), "picocli", ".tmp");
            try (JarFile in = new JarFile(jar.toFile()); JarOutputStream jos = new JarOutputStream(Files.newOutputStream(tmp))) {
                for (JarEntry e : Collections.list(in.entries())) {
                    // The Java 9 module descriptor would make the copy a different module; the class path needs none.
                    if (e.isDirectory() || e.getName().startsWith("META-INF/versions/")) {
                        continue;
                    }
                    byte[] bytes;
                    try (InputStream is = in.getInputStream(e)) {
                        bytes = is.readAllBytes();
                    }
                    if (e.getName().endsWith(".class")) {
                        ClassModel model = classFile.parse(bytes);
                        if (model.majorVersion() < ClassFile.JAVA_6_VERSION) {
                            bytes = classFile.transformClass(model, toJava8);
                        }
                    }
                    jos.putNextEntry(new JarEntry(e.getName()));
                    jos.write(bytes);
                    jos.closeEntry();
                }
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /** The commands whose start-up matters most, on a two-version repository, output discarded. */
    static void train() throws IOException {
        Path dir = Files.createTempDirectory("merit-aot-training");
        try {
            writeModel(dir.resolve("base.safetensors"), 0f);
            writeModel(dir.resolve("tuned.safetensors"), 0.01f);
            PrintWriter sink = new PrintWriter(Writer.nullWriter());
            String[][] runs = {
                {"init", "--from", "base.safetensors", "-m", "base"},
                {"commit", "tuned.safetensors", "-m", "tuned"},
                {"log", "--oneline"}, {"log"}, {"log", "--json"},
                {"status", "tuned.safetensors"}, {"status", "base.safetensors", "--json"},
                {"show"}, {"show", "HEAD~1", "--json"},
                {"diff", "HEAD~1", "HEAD"}, {"branch"}, {"tag"},
                {"--help"}, {"help", "log"}, {"log", "--help"}, {"lgo"},
            };
            for (String[] run : runs) {
                int code = Main.run(dir, sink, sink, run);
                System.out.println("trained on merit " + String.join(" ", run) + " (exit " + code + ")");
            }
        } finally {
            deleteTree(dir);
        }
    }

    /** A small float32 safetensors file: three tensors, every fifth entry shifted by {@code shift}. */
    private static void writeModel(Path file, float shift) throws IOException {
        int[][] shapes = {{64, 32}, {64}, {10, 64}};
        String[] names = {"fc1.weight", "fc1.bias", "fc2.weight"};
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (int t = 0; t < names.length; t++) {
            long n = count(shapes[t]);
            header.append(t == 0 ? "" : ",").append('"').append(names[t]).append("\":{\"dtype\":\"F32\",\"shape\":[");
            for (int d = 0; d < shapes[t].length; d++) {
                header.append(d == 0 ? "" : ",").append(shapes[t][d]);
            }
            header.append("],\"data_offsets\":[").append(offset).append(',').append(offset + 4 * n).append("]}");
            offset += 4 * n;
        }
        header.append('}');
        while (header.length() % 8 != 0) {
            header.append(' ');
        }
        byte[] h = header.toString().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        int i = 0;
        for (int[] shape : shapes) {
            for (long k = 0; k < count(shape); k++, i++) {
                b.putFloat((float) Math.sin(i * 0.37) + (i % 5 == 0 ? shift : 0f));
            }
        }
        Files.write(file, b.array());
    }

    private static long count(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
