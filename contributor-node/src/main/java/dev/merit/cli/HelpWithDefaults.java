package dev.merit.cli;

import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Help.Ansi.Text;
import picocli.CommandLine.Help.ColorScheme;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Usage help that states every option's and parameter's default: picocli's own rows, plus a
 * "Default: X" line when a default exists and the description does not already say it.
 */
final class HelpWithDefaults extends CommandLine.Help {

    /** Field values that mean "no limit" rather than a default anyone would type. */
    private static final Set<String> NO_LIMIT = Set.of(
            String.valueOf(Integer.MAX_VALUE), String.valueOf(Long.MAX_VALUE), "Infinity");

    HelpWithDefaults(CommandSpec spec, ColorScheme scheme) {
        super(spec, scheme);
    }

    /**
     * The command's description as paragraphs wrapped to the help width. Descriptions are written
     * as lines that fit the source; picocli would wrap each one on its own and leave ragged stubs.
     * A line beginning with "merit " starts a paragraph (a usage form); other lines, indented or
     * not, continue the one before.
     */
    @Override
    public String description(Object... params) {
        String[] lines = commandSpec().usageMessage().description();
        if (lines.length == 0) {
            return "";
        }
        java.util.List<String> paragraphs = new java.util.ArrayList<>();
        for (String line : lines) {
            String text = line.strip();
            if (paragraphs.isEmpty() || text.isEmpty() || text.startsWith("merit ")) {
                paragraphs.add(text);
            } else {
                int last = paragraphs.size() - 1;
                paragraphs.set(last, paragraphs.get(last).isEmpty() ? text : paragraphs.get(last) + " " + text);
            }
        }
        return join(colorScheme().ansi(), commandSpec().usageMessage().width(),
                commandSpec().usageMessage().adjustLineBreaksForWideCJKCharacters(),
                paragraphs.toArray(String[]::new), new StringBuilder(), params).toString();
    }

    @Override
    public IOptionRenderer createDefaultOptionRenderer() {
        IOptionRenderer plain = super.createDefaultOptionRenderer();
        return (option, labels, scheme) -> withDefault(plain.render(option, labels, scheme), option, scheme);
    }

    @Override
    public IParameterRenderer createDefaultParameterRenderer() {
        IParameterRenderer plain = super.createDefaultParameterRenderer();
        return (param, labels, scheme) -> withDefault(plain.render(param, labels, scheme), param, scheme);
    }

    /** The default a user sees, or null when there is none worth stating. */
    static String defaultToShow(ArgSpec arg) {
        if (arg instanceof OptionSpec o && (o.usageHelp() || o.versionHelp())) {
            return null;
        }
        if (arg.arity().max() == 0 || arg.type() == boolean.class || arg.type() == Boolean.class) {
            return null; // a flag: off unless given
        }
        String value = arg.defaultValue() != null ? arg.defaultValue()
                : arg.hasInitialValue() && arg.initialValue() != null ? String.valueOf(arg.initialValue()) : null;
        if (value == null || value.isEmpty() || value.equals("[]") || value.equals("{}") || NO_LIMIT.contains(value)) {
            return null;
        }
        String described = String.join(" ", arg.description()).toLowerCase(Locale.ROOT);
        return described.contains("default") ? null : value;
    }

    private static Text[][] withDefault(Text[][] rows, ArgSpec arg, ColorScheme scheme) {
        String value = defaultToShow(arg);
        if (value == null || rows.length == 0) {
            return rows;
        }
        Text[] line = new Text[rows[0].length];
        for (int i = 0; i < line.length; i++) {
            line[i] = scheme.ansi().new Text("", scheme);
        }
        line[line.length - 1] = scheme.ansi().new Text("  Default: " + value, scheme);
        Text[][] result = Arrays.copyOf(rows, rows.length + 1);
        result[rows.length] = line;
        return result;
    }
}
