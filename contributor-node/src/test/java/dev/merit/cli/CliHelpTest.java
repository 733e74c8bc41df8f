package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/** Help for every command and subcommand, defaults in it, suggestions for typos, and the lazily built command tree. */
class CliHelpTest {

    @TempDir
    Path dir;

    private CliRunner.Result run(String... args) {
        return new CliRunner(dir).run(args);
    }

    /** Every command path of the full tree, e.g. [log], [remote, add]. */
    private static List<List<String>> commandPaths() {
        List<List<String>> paths = new ArrayList<>();
        collect(Main.commandLine(Path.of(".")), new ArrayList<>(), paths);
        return paths;
    }

    private static void collect(CommandLine cl, List<String> prefix, List<List<String>> into) {
        cl.getSubcommands().forEach((name, sub) -> {
            List<String> path = new ArrayList<>(prefix);
            path.add(name);
            into.add(path);
            collect(sub, path, into);
        });
    }

    @Test
    void everyCommandAnswersHelpThreeWays() {
        List<List<String>> paths = commandPaths();
        assertTrue(paths.contains(List.of("remote", "add")) && paths.contains(List.of("review", "approve"))
                && paths.contains(List.of("token", "create")) && paths.contains(List.of("key", "register")), paths.toString());
        for (List<String> path : paths) {
            String usage = "Usage: merit " + String.join(" ", path);
            CliRunner.Result longForm = run(Stream.concat(path.stream(), Stream.of("--help")).toArray(String[]::new));
            assertEquals(0, longForm.exitCode(), () -> path + " --help\n" + longForm);
            assertTrue(longForm.out().contains(usage), () -> path + " --help\n" + longForm);
            CliRunner.Result shortForm = run(Stream.concat(path.stream(), Stream.of("-h")).toArray(String[]::new));
            assertEquals(longForm.out(), shortForm.out(), path + " -h");
            CliRunner.Result helpCommand = run(Stream.concat(Stream.of("help"), path.stream()).toArray(String[]::new));
            assertEquals(0, helpCommand.exitCode(), () -> "help " + path + "\n" + helpCommand);
            assertEquals(longForm.out(), helpCommand.out(), "help " + path);
        }
    }

    /** The description block of every help: lines filled up to picocli's 79 columns until a paragraph ends, not one row per source line. */
    @Test
    void descriptionsWrapAsParagraphs() {
        List<String> ragged = new ArrayList<>();
        for (List<String> path : commandPaths()) {
            List<String> lines = run(Stream.concat(path.stream(), Stream.of("--help")).toArray(String[]::new)).out().lines().toList();
            int i = 0;
            while (i < lines.size() && !lines.get(i).startsWith("Usage: ")) {
                i++;
            }
            i++;
            while (i < lines.size() && lines.get(i).startsWith(" ")) {
                i++; // the synopsis' continuation lines
            }
            for (; i + 1 < lines.size() && !lines.get(i + 1).startsWith(" "); i++) {
                String line = lines.get(i);
                String next = lines.get(i + 1);
                boolean paragraphEnds = next.isEmpty() || next.startsWith("merit ");
                if (!paragraphEnds && line.length() + 1 + next.split(" ", 2)[0].length() < 80) {
                    ragged.add(path + ": '" + line + "' / '" + next + "'");
                }
            }
        }
        assertEquals(List.of(), ragged);
    }

    @Test
    void everyOptionAndParameterIsDescribed() {
        List<String> undescribed = new ArrayList<>();
        walk(Main.commandLine(Path.of(".")), undescribed);
        assertEquals(List.of(), undescribed);
    }

    private static void walk(CommandLine cl, List<String> undescribed) {
        List<ArgSpec> args = new ArrayList<>(cl.getCommandSpec().options());
        args.addAll(cl.getCommandSpec().positionalParameters());
        for (ArgSpec a : args) {
            if (String.join("", a.description()).isBlank()) {
                String name = a instanceof OptionSpec o ? o.longestName() : a.paramLabel();
                undescribed.add(cl.getCommandSpec().qualifiedName() + " " + name);
            }
        }
        cl.getSubcommands().values().forEach(sub -> walk(sub, undescribed));
    }

    @Test
    void helpListsOptionsWithDefaults() {
        // merit serve --help is checked through the launcher (MeritLauncherIT), which may run serve elsewhere.
        CliRunner.Result r = run("push", "--help");
        assertEquals(0, r.exitCode(), r::toString);
        // --examples has a default its description does not mention: the help adds it.
        String examples = r.out().substring(r.out().indexOf("\n      --examples"));
        assertTrue(examples.substring(0, examples.indexOf("\n  -")).contains("Default: 0"), r.out());
        assertTrue(r.out().contains("Default: origin"), "the REMOTE parameter's default: " + r.out());
        CliRunner.Result log = run("log", "--help");
        assertTrue(log.out().contains("Default: HEAD"), log.out());
        assertFalse(log.out().contains("Default: 2147483647"), "no 'default' for an unlimited count: " + log.out());
        CliRunner.Result merge = run("merge", "--help");
        assertFalse(merge.out().contains("Default: {}") || merge.out().contains("Default: []"), "no empty defaults: " + merge.out());
    }

    @Test
    void serveHelpListsOptionsWithDefaults() {
        // merit serve is the coordinator's own program (the launcher routes it there): its help in-process.
        java.io.StringWriter out = new java.io.StringWriter();
        int code = dev.merit.coordinator.cli.CoordinatorMain.run(java.nio.file.Path.of("."), new java.io.PrintWriter(out, true),
                new java.io.PrintWriter(new java.io.StringWriter(), true), "serve", "--help");
        String help = out.toString();
        assertEquals(0, code, help);
        assertTrue(help.contains("--port") && help.contains("7070"), help);
        for (String option : List.of("--max-density", "--max-norm", "--policy", "--batch-size")) {
            String row = help.substring(help.indexOf("\n      " + option));
            row = row.substring(0, row.indexOf("\n      -", 1) < 0 ? row.length() : row.indexOf("\n      -", 1));
            assertTrue(row.toLowerCase(java.util.Locale.ROOT).contains("default"), "the help of " + option + " states its default: " + row);
        }
    }

    @Test
    void mistypedOptionsAndCommandsGetTheClosestName() {
        CliRunner.Result option = run("log", "--onelin");
        assertEquals(2, option.exitCode(), option::toString);
        assertEquals(1, option.err().lines().count(), option.err());
        assertTrue(option.err().contains("Unknown option: '--onelin'; did you mean '--oneline'?"), option.err());
        assertTrue(option.err().contains("see 'merit log --help'"), option.err());

        CliRunner.Result command = run("lgo");
        assertEquals(2, command.exitCode(), command::toString);
        assertTrue(command.err().contains("unknown command 'lgo'; did you mean 'log'?"), command.err());

        CliRunner.Result sub = run("remote", "ad", "origin", "merit://x:1");
        assertEquals(2, sub.exitCode(), sub::toString);
        assertTrue(sub.err().contains("did you mean 'add'?"), sub.err());

        CliRunner.Result help = run("help", "stauts");
        assertEquals(2, help.exitCode(), help::toString);
        assertTrue(help.err().contains("did you mean 'status'?"), help.err());

        CliRunner.Result far = run("frobnicate");
        assertEquals(2, far.exitCode(), far::toString);
        assertFalse(far.err().contains("did you mean"), "nothing is close to frobnicate: " + far.err());
    }

    @Test
    void groupsWithoutTheirSubcommandAreUsageErrors() {
        CliRunner.Result r = run("token");
        assertEquals(2, r.exitCode(), r::toString);
        assertTrue(r.err().contains("'merit token' needs a subcommand: create"), r.err());
        CliRunner.Result review = run("review", "approve");
        assertEquals(2, review.exitCode(), review::toString);
        assertTrue(review.err().contains("ID"), "names the missing proposal id: " + review.err());
    }

    @Test
    void remoteSubcommandsAddAndList() {
        assertEquals(0, run("init").exitCode());
        CliRunner.Result add = run("remote", "add", "origin", "merit://127.0.0.1:7070");
        assertEquals(0, add.exitCode(), add::toString);
        assertEquals("origin\tmerit://127.0.0.1:7070", run("remote", "list").out().trim());
        assertEquals("origin\tmerit://127.0.0.1:7070", run("remote").out().trim());
        CliRunner.Result missing = run("remote", "add", "origin");
        assertEquals(2, missing.exitCode(), missing::toString);
        assertTrue(missing.err().contains("URL"), missing.err());
    }

    @Test
    void aRunBuildsOnlyTheCommandItNames() {
        assertEquals(Set.of("log"), Main.commandLine(dir, new String[] {"log", "--oneline"}).getSubcommands().keySet());
        assertEquals(Set.of("status"), Main.commandLine(dir, new String[] {"-C", "sub", "-q", "status", "f"}).getSubcommands().keySet());
        assertEquals(Set.of("remote"), Main.commandLine(dir, new String[] {"remote", "add"}).getSubcommands().keySet());
        for (String[] args : List.of(new String[] {}, new String[] {"--help"}, new String[] {"help", "log"}, new String[] {"lgo"})) {
            var names = Main.commandLine(dir, args).getSubcommands().keySet();
            assertTrue(names.containsAll(Set.of("log", "status", "serve", "help")), Arrays.toString(args) + " -> " + names);
        }
    }

    @Test
    void closestNames() {
        assertEquals(List.of("--oneline"), Suggestions.closest("--onelin", List.of("--json", "--oneline", "-n")));
        assertEquals(List.of("--oneline"), Suggestions.closest("--one", List.of("--json", "--oneline")));
        assertEquals(List.of("status"), Suggestions.closest("stauts", List.of("show", "status", "switch")));
        assertEquals(List.of(), Suggestions.closest("zzz", List.of("show", "status")));
        assertEquals(1, Suggestions.distance("ab", "ba"));
        assertEquals(3, Suggestions.distance("kitten", "sitting"));
    }
}
