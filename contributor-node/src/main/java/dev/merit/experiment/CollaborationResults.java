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
 * Q3's measurements: per run (centralized, dense FedAvg, each sparse variant) and seed, the test
 * accuracy after each round and the bytes pushed in it; written as a Markdown table, JSON, and
 * two SVG plots (accuracy per round, bytes per round on a log scale).
 */
final class CollaborationResults {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String[] COLORS = {"#000000", "#888888", "#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377",
        "#bb5500", "#0077bb", "#009988", "#cc3311", "#332288"};

    private final int rounds;
    private final ObjectNode config = JSON.createObjectNode();
    private final List<Double> base = new ArrayList<>();
    private final Map<String, List<double[]>> accuracy = new LinkedHashMap<>();
    private final Map<String, List<long[]>> bytes = new LinkedHashMap<>();
    private final Map<String, String> what = new LinkedHashMap<>();
    private final Map<String, Integer> perRound = new LinkedHashMap<>();
    private long denseBytesPerRound;

    CollaborationResults(int rounds) {
        this.rounds = rounds;
    }

    ObjectNode config() {
        return config;
    }

    void base(double acc) {
        base.add(acc);
    }

    void denseBytesPerRound(long b) {
        denseBytesPerRound = b;
    }

    /**
     * One seed of a run; {@code bytesPerRound} null means dense float32 deltas from every contributor
     * in each of the {@code per} communication rounds of a reported round.
     */
    void add(String run, double[] acc, long[] bytesPerRound, int per, String description) {
        perRound.put(run, per);
        accuracy.computeIfAbsent(run, r -> new ArrayList<>()).add(acc.clone());
        if (bytesPerRound != null) {
            bytes.computeIfAbsent(run, r -> new ArrayList<>()).add(bytesPerRound.clone());
        }
        what.put(run, description);
    }

    Map<String, List<double[]>> accuracy() {
        return accuracy;
    }

    private long[] bytesOf(String run) {
        long[] b = new long[rounds];
        List<long[]> seeds = bytes.get(run);
        for (int r = 0; r < rounds; r++) {
            if (seeds == null) {
                b[r] = denseBytesPerRound * perRound.get(run);
            } else {
                final int at = r;
                b[r] = Math.round(seeds.stream().mapToLong(s -> s[at]).average().orElse(0));
            }
        }
        return b;
    }

    private double meanAt(String run, int round) {
        return accuracy.get(run).stream().mapToDouble(a -> a[round]).average().orElse(Double.NaN);
    }

    private List<Double> finals(String run) {
        return accuracy.get(run).stream().map(a -> a[rounds - 1]).toList();
    }

    /** Mean bytes per round over rounds and seeds. */
    double bytesPerRound(String run) {
        return java.util.Arrays.stream(bytesOf(run)).average().orElse(0);
    }

    List<Path> write(Path dir) {
        try {
            Files.createDirectories(dir);
            List<Path> written = new ArrayList<>();
            written.add(Files.writeString(dir.resolve("q3.md"), markdown()));
            written.add(Files.writeString(dir.resolve("q3.json"), JSON.writeValueAsString(json())));
            written.add(Files.writeString(dir.resolve("q3-accuracy.svg"), accuracySvg()));
            written.add(Files.writeString(dir.resolve("q3-bytes.svg"), bytesSvg()));
            return written;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write results under " + dir + ": " + e.getMessage(), e);
        }
    }

    String markdown() {
        StringBuilder sb = new StringBuilder("## Q3 collaboration: test accuracy (%) per round and bytes pushed per round\n\n");
        int seeds = base.size();
        sb.append(String.format(Locale.ROOT, "Base model: %.2f ± %.2f. Mean over %d seed%s; final = after round %d (± sd). "
                        + "Bytes: proposal payloads pushed over gRPC per round, all contributors, mean; dense FedAvg counts float32 deltas.%n%n",
                100 * Results.mean(base), 100 * Results.std(base), seeds, seeds == 1 ? "" : "s", rounds));
        sb.append("| run |");
        for (int r = 1; r <= rounds; r++) {
            sb.append(" r").append(r).append(" |");
        }
        sb.append(" final ± sd | vs centralized | bytes/round | fedavg-dense/this | dense same schedule/this |\n|---|");
        sb.append("---|".repeat(rounds + 5)).append('\n');
        double central = accuracy.containsKey("centralized") ? Results.mean(finals("centralized")) : Double.NaN;
        for (String run : accuracy.keySet()) {
            sb.append("| ").append(run).append(" |");
            for (int r = 0; r < rounds; r++) {
                sb.append(String.format(Locale.ROOT, " %.2f |", 100 * meanAt(run, r)));
            }
            List<Double> f = finals(run);
            double b = run.equals("centralized") ? 0 : bytesPerRound(run);
            boolean none = run.equals("centralized") || b == 0;
            sb.append(String.format(Locale.ROOT, " %.2f ± %.2f | %+.2f | %s | %s | %s |%n", 100 * Results.mean(f), 100 * Results.std(f),
                    100 * (Results.mean(f) - central), run.equals("centralized") ? "-" : human(b),
                    none ? "-" : ratio(denseBytesPerRound / b), none ? "-" : ratio(denseBytesPerRound * perRound.get(run) / b)));
        }
        sb.append('\n');
        for (var e : what.entrySet()) {
            sb.append("- ").append(e.getKey()).append(": ").append(e.getValue()).append('\n');
        }
        return sb.toString();
    }

    ObjectNode json() {
        ObjectNode root = JSON.createObjectNode();
        root.put("experiment", "q3");
        root.set("config", config);
        ArrayNode b = root.putArray("base_accuracy");
        base.forEach(b::add);
        root.put("dense_bytes_per_round", denseBytesPerRound);
        ObjectNode runs = root.putObject("runs");
        for (String run : accuracy.keySet()) {
            ObjectNode n = runs.putObject(run);
            n.put("description", what.get(run));
            ArrayNode mean = n.putArray("accuracy_mean");
            for (int r = 0; r < rounds; r++) {
                mean.add(meanAt(run, r));
            }
            List<Double> f = finals(run);
            n.put("final_mean", Results.mean(f));
            n.put("final_sd", Results.std(f));
            ArrayNode seeds = n.putArray("accuracy_per_seed");
            accuracy.get(run).forEach(a -> {
                ArrayNode s = seeds.addArray();
                for (double x : a) {
                    s.add(x);
                }
            });
            if (!run.equals("centralized")) {
                ArrayNode bytesMean = n.putArray("bytes_per_round_mean");
                for (long x : bytesOf(run)) {
                    bytesMean.add(x);
                }
                n.put("bytes_per_round", bytesPerRound(run));
                n.put("dense_over_this", denseBytesPerRound / Math.max(1, bytesPerRound(run)));
                n.put("communication_rounds_per_round", perRound.get(run));
                n.put("dense_same_schedule_over_this", denseBytesPerRound * perRound.get(run) / Math.max(1, bytesPerRound(run)));
            }
        }
        return root;
    }

    /** Accuracy against round, one line per run. */
    String accuracySvg() {
        int width = 720;
        int height = 420;
        int left = 50;
        int top = 40;
        int plotW = 430;
        int plotH = height - top - 50;
        double lo = 1;
        double hi = 0;
        for (String run : accuracy.keySet()) {
            for (int r = 0; r < rounds; r++) {
                lo = Math.min(lo, meanAt(run, r));
                hi = Math.max(hi, meanAt(run, r));
            }
        }
        lo = Math.min(lo, Results.mean(base));
        double axisMin = Math.floor(lo * 20) / 20;
        double axisMax = Math.min(1, Math.ceil(hi * 20) / 20);
        if (axisMax <= axisMin) {
            axisMax = axisMin + 0.05;
        }
        StringBuilder sb = header(width, height, "Q3: test accuracy after each round (mean over seeds)");
        for (int t = 0; t <= 5; t++) {
            double v = axisMin + (axisMax - axisMin) * t / 5;
            double y = top + plotH * (1 - (v - axisMin) / (axisMax - axisMin));
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                    + "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.1f</text>%n", left, y, left + plotW, y, left - 4, y + 4, 100 * v));
        }
        for (int r = 0; r <= rounds; r++) {
            double x = left + plotW * r / (double) rounds;
            sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%d</text>%n", x, top + plotH + 16, r));
        }
        sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">round (0 = base)</text>%n",
                left + plotW / 2, top + plotH + 34));
        int i = 0;
        for (String run : accuracy.keySet()) {
            String color = COLORS[i % COLORS.length];
            StringBuilder pts = new StringBuilder();
            for (int r = 0; r <= rounds; r++) {
                double v = r == 0 ? Results.mean(base) : meanAt(run, r - 1);
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", left + plotW * r / (double) rounds,
                        top + plotH * (1 - (v - axisMin) / (axisMax - axisMin))));
            }
            sb.append(String.format(Locale.ROOT, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%s\"/>%n", color,
                    run.startsWith("fedavg-dense") ? " stroke-dasharray=\"5,3\"" : "", pts.toString().trim()));
            double y = top + 10 + 18 * i;
            sb.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"3\"/>"
                    + "<text x=\"%d\" y=\"%.1f\">%s %.1f</text>%n", left + plotW + 20, y, left + plotW + 40, y, color,
                    left + plotW + 46, y + 4, Results.esc(run), 100 * meanAt(run, rounds - 1)));
            i++;
        }
        return sb.append("</svg>\n").toString();
    }

    /** Mean bytes pushed per round, log-scale bars. */
    String bytesSvg() {
        List<String> runs = accuracy.keySet().stream().filter(r -> !r.equals("centralized")).toList();
        int rowH = 22;
        int left = 150;
        int width = 640;
        int plotW = width - left - 90;
        int top = 40;
        int height = top + runs.size() * rowH + 40;
        double maxLog = Math.ceil(Math.log10(Math.max(10, runs.stream().mapToDouble(this::bytesPerRound).max().orElse(10))));
        double minLog = Math.max(0, Math.floor(Math.log10(Math.max(1, runs.stream().mapToDouble(this::bytesPerRound).min().orElse(1)))) - 1);
        StringBuilder sb = header(width, height, "Q3: bytes pushed per round, all contributors (log scale)");
        for (int e = (int) minLog; e <= maxLog; e++) {
            double x = left + plotW * (e - minLog) / (maxLog - minLog);
            sb.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
                    + "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">1e%d</text>%n", x, top - 4, x, height - 30, x, height - 16, e));
        }
        int i = 0;
        for (String run : runs) {
            double b = bytesPerRound(run);
            double y = top + i * rowH;
            double w = b <= 0 ? 0 : plotW * (Math.log10(b) - minLog) / (maxLog - minLog);
            sb.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n", left - 6, y + 15, Results.esc(run)));
            sb.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>%n", left, y + 3,
                    Math.max(0, w), rowH - 6, run.startsWith("fedavg-dense") ? "#aaaaaa" : "#4477aa"));
            sb.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\">%s</text>%n", left + Math.max(0, w) + 4, y + 15, human(b)));
            i++;
        }
        return sb.append("</svg>\n").toString();
    }

    private static StringBuilder header(int width, int height, String title) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "font-family=\"sans-serif\" font-size=\"12\">%n", width, height));
        sb.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        sb.append(String.format(Locale.ROOT, "<text x=\"10\" y=\"20\" font-size=\"14\">%s</text>%n", Results.esc(title)));
        return sb;
    }

    /** 428x, or 0.25x below 10. */
    static String ratio(double r) {
        return String.format(Locale.ROOT, r < 10 ? "%.2fx" : "%.0fx", r);
    }

    static String human(double bytes) {
        if (bytes >= 1 << 20) {
            return String.format(Locale.ROOT, "%.2f MiB", bytes / (1 << 20));
        }
        if (bytes >= 1 << 10) {
            return String.format(Locale.ROOT, "%.1f KiB", bytes / (1 << 10));
        }
        return String.format(Locale.ROOT, "%.0f B", bytes);
    }
}
