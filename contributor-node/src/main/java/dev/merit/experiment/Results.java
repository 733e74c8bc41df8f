package dev.merit.experiment;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Measurements by group (a setting, e.g. "dirichlet:0.3") and row (a strategy), one value per
 * seed, written as a Markdown table, JSON and one SVG bar chart per group.
 */
final class Results {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final String experiment;
    private final String title;
    private final String unit;
    private final Map<String, Map<String, List<Double>>> groups = new LinkedHashMap<>();
    private final Map<String, String> notes = new LinkedHashMap<>();
    private final ObjectNode config = JSON.createObjectNode();

    Results(String experiment, String title, String unit) {
        this.experiment = experiment;
        this.title = title;
        this.unit = unit;
    }

    ObjectNode config() {
        return config;
    }

    void add(String group, String row, double value) {
        groups.computeIfAbsent(group, g -> new LinkedHashMap<>()).computeIfAbsent(row, r -> new ArrayList<>()).add(value);
    }

    void note(String key, String text) {
        notes.put(key, text);
    }

    Map<String, Map<String, List<Double>>> groups() {
        return groups;
    }

    double mean(String group, String row) {
        return mean(groups.get(group).get(row));
    }

    static double mean(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    /** Sample standard deviation (0 for one seed). */
    static double std(List<Double> v) {
        if (v.size() < 2) {
            return 0;
        }
        double m = mean(v);
        return Math.sqrt(v.stream().mapToDouble(x -> (x - m) * (x - m)).sum() / (v.size() - 1));
    }

    /** Writes {@code <experiment>.md}, {@code <experiment>.json} and {@code <experiment>-<group>.svg} under {@code dir}. */
    List<Path> write(Path dir) {
        try {
            Files.createDirectories(dir);
            List<Path> written = new ArrayList<>();
            Path md = dir.resolve(experiment + ".md");
            Files.writeString(md, markdown());
            written.add(md);
            Path json = dir.resolve(experiment + ".json");
            Files.writeString(json, JSON.writeValueAsString(json()));
            written.add(json);
            for (String g : groups.keySet()) {
                Path svg = dir.resolve(experiment + "-" + g.replaceAll("[^A-Za-z0-9.]+", "_") + ".svg");
                Files.writeString(svg, svg(g));
                written.add(svg);
            }
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write results under " + dir + ": " + e.getMessage(), e);
        }
    }

    String markdown() {
        StringBuilder sb = new StringBuilder("## ").append(title).append("\n\n");
        for (var g : groups.entrySet()) {
            int seeds = g.getValue().values().stream().mapToInt(List::size).max().orElse(0);
            sb.append("### ").append(g.getKey()).append("\n\n| ").append("row | ").append(unit)
                    .append(" mean ± sd | seeds (").append(seeds).append(") |\n|---|---|---|\n");
            for (var r : g.getValue().entrySet()) {
                sb.append(String.format(Locale.ROOT, "| %s | %.2f ± %.2f | %s |%n", r.getKey(), 100 * mean(r.getValue()),
                        100 * std(r.getValue()), String.join(", ", r.getValue().stream()
                                .map(v -> String.format(Locale.ROOT, "%.2f", 100 * v)).toList())));
            }
            sb.append('\n');
        }
        for (var n : notes.entrySet()) {
            sb.append("- ").append(n.getKey()).append(": ").append(n.getValue()).append('\n');
        }
        return sb.toString();
    }

    ObjectNode json() {
        ObjectNode root = JSON.createObjectNode();
        root.put("experiment", experiment);
        root.put("title", title);
        root.put("unit", unit);
        root.set("config", config);
        ObjectNode gs = root.putObject("groups");
        for (var g : groups.entrySet()) {
            ObjectNode gn = gs.putObject(g.getKey());
            for (var r : g.getValue().entrySet()) {
                ObjectNode rn = gn.putObject(r.getKey());
                rn.put("mean", mean(r.getValue()));
                rn.put("sd", std(r.getValue()));
                ArrayNode a = rn.putArray("seeds");
                r.getValue().forEach(a::add);
            }
        }
        ObjectNode ns = root.putObject("notes");
        notes.forEach(ns::put);
        return root;
    }

    /** Horizontal bars (mean) with whiskers (± sd), on a 0..100% axis. */
    String svg(String group) {
        Map<String, List<Double>> rows = groups.get(group);
        int rowH = 22;
        int left = 210;
        int width = 640;
        int plotW = width - left - 60;
        int top = 40;
        int height = top + rows.size() * rowH + 40;
        double lo = rows.values().stream().flatMap(List::stream).mapToDouble(Double::doubleValue).min().orElse(0);
        double hi = rows.values().stream().flatMap(List::stream).mapToDouble(Double::doubleValue).max().orElse(1);
        double axisMin = lo < 0 ? Math.floor(lo * 20) / 20 : Math.max(0, Math.floor(lo * 10 - 1) / 10);
        double axisMax = Math.min(1, Math.ceil(hi * 10 + 0.5) / 10);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "font-family=\"sans-serif\" font-size=\"12\">%n", width, height));
        sb.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        sb.append(String.format(Locale.ROOT, "<text x=\"10\" y=\"20\" font-size=\"14\">%s: %s (%s, mean ± sd)</text>%n",
                esc(title), esc(group), esc(unit)));
        for (int t = 0; t <= 5; t++) {
            double v = axisMin + (axisMax - axisMin) * t / 5;
            double x = left + plotW * (v - axisMin) / (axisMax - axisMin);
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                    + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f</text>%n", x, top - 4, x, height - 30, x, height - 16, 100 * v));
        }
        int i = 0;
        for (var r : rows.entrySet()) {
            double m = mean(r.getValue());
            double sd = std(r.getValue());
            double y = top + i * rowH;
            double w = Math.max(0, plotW * (m - axisMin) / (axisMax - axisMin));
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", left - 6, y + 15, esc(r.getKey())));
            sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>%n",
                    left, y + 3, w, rowH - 6, r.getKey().startsWith("merge") ? "#4477aa" : "#aaaaaa"));
            double x1 = left + Math.max(0, plotW * (m - sd - axisMin) / (axisMax - axisMin));
            double x2 = left + plotW * (m + sd - axisMin) / (axisMax - axisMin);
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>%n",
                    x1, y + rowH / 2.0, x2, y + rowH / 2.0));
            sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\">%.1f</text>%n", left + w + 4, y + 15, 100 * m));
            i++;
        }
        if (axisMin < 0) {
            double x0 = left + plotW * -axisMin / (axisMax - axisMin);
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>%n",
                    x0, top - 4, x0, height - 30));
        }
        sb.append("</svg>\n");
        return sb.toString();
    }

    /** Text for an SVG element or attribute. */
    static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
