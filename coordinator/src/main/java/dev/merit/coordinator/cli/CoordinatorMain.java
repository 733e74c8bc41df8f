package dev.merit.coordinator.cli;

import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.error.NotFoundException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine;

/**
 * Entry point of {@code merit serve}: the coordinator runs from its own classpath (Kafka broker,
 * Scala, Netty server), so a contributor's commands never load any of it. The {@code merit}
 * launcher sends {@code serve}, {@code help serve} and {@code serve --help} here; the exit codes
 * and the {@code -C}/{@code -q} options are the same as the contributor's program.
 */
public final class CoordinatorMain {

    private CoordinatorMain() {}

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true, StandardCharsets.UTF_8);
        PrintWriter err = new PrintWriter(System.err, true, StandardCharsets.UTF_8);
        int code = run(Path.of("").toAbsolutePath(), out, err, args);
        out.flush();
        err.flush();
        System.exit(code);
    }

    /** Runs in-process with the given writers and returns the exit code (tests). */
    public static int run(Path cwd, PrintWriter out, PrintWriter err, String... args) {
        CommandLine cl = new CommandLine(new Root(cwd));
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("merit: " + describe(ex));
            if (System.getenv("MERIT_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            return exitCode(ex);
        });
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine cmd = ex.getCommandLine();
            cmd.getErr().println("merit: " + ex.getMessage() + " (see '" + cmd.getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        return cl.execute(args);
    }

    private static int exitCode(Throwable ex) {
        if (ex instanceof InvalidInputException) {
            return 4;
        }
        if (ex instanceof NotFoundException) {
            return 3;
        }
        return 1;
    }

    private static String describe(Throwable ex) {
        if (ex instanceof MeritException || ex instanceof UncheckedIOException) {
            return ex.getMessage();
        }
        return "internal error: " + ex + " (set MERIT_DEBUG=1 for the stack trace)";
    }

    /** The {@code merit} command as the coordinator's program knows it: {@code serve} and {@code help}. */
    @Command(name = "merit", mixinStandardHelpOptions = true, versionProvider = Root.Version.class,
            header = "Run a Merit coordinator.",
            subcommands = {ServeCommand.class, HelpCommand.class})
    static final class Root {

        final Path cwd;

        @Option(names = "-C", paramLabel = "DIR", scope = ScopeType.INHERIT, description = "Run as if merit was started in DIR.")
        Path directory;

        @Option(names = {"-q", "--quiet"}, scope = ScopeType.INHERIT, description = "No progress output.")
        boolean quiet;

        Root(Path cwd) {
            this.cwd = cwd;
        }

        Path workDir() {
            return directory == null ? cwd : cwd.resolve(directory).normalize();
        }

        static final class Version implements CommandLine.IVersionProvider {
            @Override
            public String[] getVersion() {
                String v = CoordinatorMain.class.getPackage().getImplementationVersion();
                return new String[] {"merit " + (v == null ? "dev" : v) + " (Java " + System.getProperty("java.version") + ")"};
            }
        }
    }
}
