package dev.merit.cli;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/** "Did you mean ...?" for a mistyped option or command: the closest names by edit distance. */
final class Suggestions {

    private Suggestions() {}

    /** A sentence to append to a usage error, e.g. {@code "; did you mean '--oneline'?"}, or "". */
    static String didYouMean(ParameterException ex) {
        if (!(ex instanceof UnmatchedArgumentException u) || u.getUnmatched().isEmpty()) {
            return "";
        }
        String typed = u.getUnmatched().get(0);
        CommandSpec spec = ex.getCommandLine().getCommandSpec();
        List<String> candidates = new ArrayList<>();
        if (typed.startsWith("-")) {
            typed = typed.contains("=") ? typed.substring(0, typed.indexOf('=')) : typed;
            for (OptionSpec o : spec.options()) {
                if (!o.hidden()) {
                    candidates.addAll(List.of(o.names()));
                }
            }
        } else {
            spec.subcommands().forEach((name, sub) -> {
                if (!sub.getCommandSpec().usageMessage().hidden()) {
                    candidates.add(name);
                }
            });
        }
        List<String> close = closest(typed, candidates);
        if (close.isEmpty()) {
            return "";
        }
        return "; did you mean " + String.join(" or ", close.stream().map(c -> "'" + c + "'").toList()) + "?";
    }

    /** The candidates nearest to {@code typed} (at most three), if any is near enough to be a typo of it. */
    static List<String> closest(String typed, List<String> candidates) {
        String t = strip(typed);
        int limit = Math.max(1, Math.min(3, t.length() / 3));
        record Scored(String name, int distance) {}
        List<Scored> near = new ArrayList<>();
        for (String c : candidates) {
            String s = strip(c);
            int d = distance(t, s);
            // A prefix counts as near too: --one for --oneline.
            if (d <= limit || (t.length() >= 2 && s.startsWith(t))) {
                near.add(new Scored(c, s.startsWith(t) ? 0 : d));
            }
        }
        near.sort(Comparator.comparingInt(Scored::distance).thenComparing(Scored::name));
        int best = near.isEmpty() ? 0 : near.get(0).distance();
        return near.stream().filter(s -> s.distance() == best).limit(3).map(Scored::name).distinct().toList();
    }

    private static String strip(String name) {
        int i = 0;
        while (i < name.length() && name.charAt(i) == '-') {
            i++;
        }
        return name.substring(i);
    }

    /** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }

    /** Picocli's message for an unknown command names an index; say what it is instead. */
    static String message(ParameterException ex) {
        if (ex instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty() && !u.isUnknownOption()
                && !ex.getCommandLine().getSubcommands().isEmpty()) {
            return "unknown command '" + u.getUnmatched().get(0) + "'";
        }
        CommandSpec spec = ex.getCommandLine().getCommandSpec();
        if (ex.getMessage().startsWith("Missing required subcommand")) {
            return "'" + spec.qualifiedName() + "' needs a subcommand: " + String.join(", ", spec.subcommands().keySet());
        }
        return ex.getMessage();
    }
}
