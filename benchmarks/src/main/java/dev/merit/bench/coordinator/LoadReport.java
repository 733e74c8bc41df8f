package dev.merit.bench.coordinator;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.bench.coordinator.LoadHarness.CpuMark;
import dev.merit.bench.coordinator.LoadHarness.Push;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** The figures of one {@link LoadHarness} run, as Markdown, JSON and an SVG plot of the coordinator's RSS. */
final class LoadReport {

    /** RSS counts as flat when the second half's peak is at most this much above the first half's. */
    static final double FLAT_TOLERANCE = 0.05;

    private final LoadHarness h;
    private final long params;
    private final int tensors;
    private final List<Push> pushes;
    private final Map<String, Long> mergedSeen;
    private final Map<String, Integer> mergedIn;
    private final Map<String, String> lateStatus;
    private final List<CoordinatorChild.Sample> samples;
    private final int versions;
    private final int stillPushing;
    private final double loadEnd;
    private final double drained;
    private final CpuMark cpu0;
    private final CpuMark cpu1;
    private final int exit;
    private final String loadBefore;
    private final String loadAfter;
    private final List<String> watchErrors;
    private final Instant when;
    private final String heap;
    private final long zero;

    LoadReport(LoadHarness h, long params, int tensors, List<Push> pushes, Map<String, Long> mergedSeen, Map<String, Integer> mergedIn, Map<String, String> lateStatus,
               List<CoordinatorChild.Sample> samples, int versions, int stillPushing, double loadEnd, double drained, CpuMark cpu0,
               CpuMark cpu1, int exit, String loadBefore, String loadAfter, List<String> watchErrors, Instant when, String heap) {
        this.h = h;
        this.params = params;
        this.tensors = tensors;
        this.pushes = pushes.stream().sorted(Comparator.comparingLong(Push::startNs)).toList();
        this.mergedSeen = mergedSeen;
        this.mergedIn = mergedIn;
        this.lateStatus = lateStatus;
        this.samples = samples;
        this.versions = versions;
        this.stillPushing = stillPushing;
        this.loadEnd = loadEnd;
        this.drained = drained;
        this.cpu0 = cpu0;
        this.cpu1 = cpu1;
        this.exit = exit;
        this.loadBefore = loadBefore;
        this.loadAfter = loadAfter;
        this.watchErrors = watchErrors;
        this.when = when;
        this.heap = heap;
        this.zero = cpu0.nanos();
    }

    private long count(String outcome) {
        return pushes.stream().filter(p -> p.outcome().equals(outcome)).count();
    }

    /** Pushes the coordinator took (answered accepted or merged). */
    long acceptedCount() {
        return count("accepted") + count("merged");
    }

    long failedCount() {
        return count("failed") + count("client-error");
    }

    /** Accepted proposals that are not merged at the end (by the watch, or the coordinator's answer after the drain). */
    long stranded() {
        return lateStatus.values().stream().filter(s -> !s.equals("merged")).count();
    }

    /** Proposals the watch stream showed in more than one version. */
    long mergedTwice() {
        return mergedIn.values().stream().filter(n -> n > 1).count();
    }

    /** Proposals some version on the watch stream named as merged. */
    int mergedByWatch() {
        return mergedIn.size();
    }

    /** Contributors whose last push had no answer when the drain ended. */
    int unanswered() {
        return stillPushing;
    }

    private List<Double> mergeLatencies() {
        List<Double> out = new ArrayList<>();
        for (Push p : pushes) {
            Long at = p.proposal().isEmpty() ? null : mergedSeen.get(p.proposal());
            if (at != null && (p.outcome().equals("accepted") || p.outcome().equals("merged"))) {
                out.add((at - p.startNs()) / 1e9);
            }
        }
        out.sort(null);
        return out;
    }

    private List<Double> sorted(java.util.function.ToDoubleFunction<Push> f, java.util.function.Predicate<Push> which) {
        return pushes.stream().filter(which).mapToDouble(f).sorted().boxed().toList();
    }

    static double pct(List<Double> sorted, double p) {
        if (sorted.isEmpty()) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(p * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, i)));
    }

    /** Reasons with their numbers masked, so "staleness 12 > 10" and "staleness 14 > 10" count as one kind. */
    private Map<String, Integer> grouped(String outcome) {
        Map<String, Integer> out = new TreeMap<>();
        for (Push p : pushes) {
            if (p.outcome().equals(outcome)) {
                String d = p.detail().replaceAll("p\\d+", "pN").replaceAll("\\d+(\\.\\d+)?(e-?\\d+)?", "N");
                out.merge(d.length() > 200 ? d.substring(0, 200) + "..." : d, 1, Integer::sum);
            }
        }
        return out;
    }

    private List<CoordinatorChild.Sample> between(double from, double to) {
        return samples.stream().filter(s -> s.t() >= from && s.t() < to).toList();
    }

    private static long maxRssKb(List<CoordinatorChild.Sample> s) {
        return s.stream().mapToLong(CoordinatorChild.Sample::rssKb).max().orElse(-1);
    }

    private double half() {
        return h.seconds / 2.0;
    }

    private long firstHalfPeak() {
        return maxRssKb(between(0, half()));
    }

    private long secondHalfPeak() {
        return maxRssKb(between(half(), h.seconds + 0.5));
    }

    private long anonPeak(double from, double to) {
        return between(from, to).stream().mapToLong(CoordinatorChild.Sample::anonKb).max().orElse(-1);
    }

    boolean rssFlat() {
        return secondHalfPeak() <= firstHalfPeak() * (1 + FLAT_TOLERANCE);
    }

    /** RSS growth over the second half by a least-squares line, MiB per minute. */
    private double secondHalfSlope() {
        List<CoordinatorChild.Sample> s = between(half(), h.seconds + 0.5);
        if (s.size() < 2) {
            return Double.NaN;
        }
        double mt = s.stream().mapToDouble(CoordinatorChild.Sample::t).average().orElse(0);
        double mr = s.stream().mapToDouble(x -> x.rssKb() / 1024.0).average().orElse(0);
        double num = 0;
        double den = 0;
        for (CoordinatorChild.Sample x : s) {
            num += (x.t() - mt) * (x.rssKb() / 1024.0 - mr);
            den += (x.t() - mt) * (x.t() - mt);
        }
        return num / den * 60;
    }

    private long mergedInWindow() {
        return mergedSeen.values().stream().filter(t -> (t - zero) / 1e9 <= h.seconds).count();
    }

    private double coordinatorCores() {
        return (cpu1.coordinator() - cpu0.coordinator()) / ((cpu1.nanos() - cpu0.nanos()) / 1e9);
    }

    private double harnessCores() {
        return (cpu1.harness() - cpu0.harness()) / ((cpu1.nanos() - cpu0.nanos()) / 1e9);
    }

    String command() {
        return String.format(Locale.ROOT, "benchmarks/run coordinator.LoadHarness --contributors %d --seconds %d --policy %s --model %s"
                        + " --density %s --interval %s%s --staleness-limit %d --kafka %s%s", h.contributors, h.seconds, h.policy, h.model,
                h.density, h.interval, h.policy.equals("batch") ? " --batch-size " + h.batchSize + " --batch-seconds " + h.batchSeconds : "",
                h.stalenessLimit, h.kafka, h.coordinatorJvm.isBlank() ? "" : " --coordinator-jvm '" + h.coordinatorJvm + "'");
    }

    String summary() {
        List<Double> lat = mergeLatencies();
        return String.format(Locale.ROOT, """
                        %s
                        pushes answered %d: accepted %d (merged by the push's answer %d), rejected %d, failed %d, client errors %d; \
                        stranded %d, unanswered %d; seen merged on the watch %d, merged twice %d
                        push-to-merged latency (%d proposals): p50 %.3f s, p95 %.3f s, p99 %.3f s, max %.3f s
                        throughput: %.1f pushes/s answered, %.1f proposals/s merged within the %d s window; %d versions
                        coordinator RSS: peak %d MiB in the 1st half, %d MiB in the 2nd half (%s), slope %.1f MiB/min over the 2nd half; \
                        RssAnon peak %d / %d MiB
                        coordinator CPU %.2f cores, harness CPU %.2f cores; loadavg before %s, after %s
                        """, command(), pushes.size(), acceptedCount(), count("merged"), count("rejected"), count("failed"),
                count("client-error"), stranded(), unanswered(), mergedByWatch(), mergedTwice(), lat.size(), pct(lat, .5), pct(lat, .95), pct(lat, .99), pct(lat, 1),
                pushes.size() / loadEnd, mergedInWindow() / (double) h.seconds, h.seconds, versions, firstHalfPeak() / 1024,
                secondHalfPeak() / 1024, rssFlat() ? "flat" : "GROWING", secondHalfSlope(), anonPeak(0, half()) / 1024,
                anonPeak(half(), h.seconds + 0.5) / 1024, coordinatorCores(), harnessCores(),
                loadBefore, loadAfter);
    }

    void write(Path dir, String name) throws IOException {
        Files.writeString(dir.resolve(name + ".md"), markdown(name));
        Files.writeString(dir.resolve(name + "-rss.svg"), svg());
        ObjectMapper m = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        m.writeValue(dir.resolve(name + ".json").toFile(), json(m));
    }

    private String markdown(String name) {
        List<Double> lat = mergeLatencies();
        List<Double> answer = sorted(p -> (p.answerNs() - p.startNs()) / 1e9, p -> !p.outcome().equals("client-error"));
        List<Double> build = sorted(Push::buildSeconds, p -> !p.outcome().equals("client-error"));
        List<Double> stale = sorted(p -> p.staleness(), p -> p.outcome().equals("accepted") || p.outcome().equals("merged"));
        double payload = pushes.stream().mapToLong(Push::payloadBytes).average().orElse(0);
        StringBuilder b = new StringBuilder();
        b.append("# Load harness: ").append(name).append("\n\n");
        b.append("Run ").append(when).append(" on ").append(Runtime.getRuntime().availableProcessors()).append(" cores; loadavg before `")
                .append(loadBefore).append("`, after `").append(loadAfter).append("`.\n\n");
        b.append("```\n").append(command()).append("\n```\n\n");
        b.append(String.format(Locale.ROOT, "Model: %,d parameters in %d tensors; each push changes %s of every tensor (mean payload %,.0f bytes). "
                        + "%d contributors, one push every %.1f s each on average (uniform +-50%%; offered load %.1f pushes/s while no push waits), "
                        + "%d s of load, drain up to %d s.%n%n",
                params, tensors, h.density, payload, h.contributors, h.interval, h.contributors / h.interval, h.seconds, h.drainSeconds));
        b.append("| figure | value |\n|---|---|\n");
        row(b, "pushes answered", Long.toString(pushes.size()));
        row(b, "accepted", acceptedCount() + " (" + count("merged") + " answered as already merged)");
        row(b, "rejected", Long.toString(count("rejected")));
        row(b, "failed (transport, INTERNAL, UNKNOWN, ...)", Long.toString(count("failed")));
        row(b, "client-side errors (harness)", Long.toString(count("client-error")));
        row(b, "accepted but not merged at the end (stranded)", Long.toString(stranded()));
        row(b, "pushes without an answer when the drain ended", Integer.toString(unanswered()));
        row(b, "proposals the watch stream saw merged / merged in two versions", mergedByWatch() + " / " + mergedTwice());
        row(b, "push-to-merged p50 / p95 / p99 / max", String.format(Locale.ROOT, "%.3f / %.3f / %.3f / %.3f s (%d proposals)",
                pct(lat, .5), pct(lat, .95), pct(lat, .99), pct(lat, 1), lat.size()));
        row(b, "push answer p50 / p99", String.format(Locale.ROOT, "%.3f / %.3f s", pct(answer, .5), pct(answer, .99)));
        row(b, "building a proposal (local commit + CommitProposal) p50 / p99",
                String.format(Locale.ROOT, "%.3f / %.3f s", pct(build, .5), pct(build, .99)));
        row(b, "staleness of accepted proposals p50 / max", String.format(Locale.ROOT, "%.0f / %.0f versions", pct(stale, .5), pct(stale, 1)));
        row(b, "throughput", String.format(Locale.ROOT, "%.1f pushes/s answered; %.1f proposals/s merged in the %d s window",
                pushes.size() / loadEnd, mergedInWindow() / (double) h.seconds, h.seconds));
        row(b, "versions made (watch stream)", Long.toString(versions));
        row(b, "load ended / merges drained at", String.format(Locale.ROOT, "%.1f s / %.1f s", loadEnd, drained));
        row(b, "coordinator RSS peak, 1st half / 2nd half", String.format(Locale.ROOT, "%d / %d MiB: %s (2nd-half slope %.1f MiB/min)",
                firstHalfPeak() / 1024, secondHalfPeak() / 1024, rssFlat() ? "flat" : "GROWING", secondHalfSlope()));
        row(b, "coordinator RssAnon peak, 1st half / 2nd half", String.format(Locale.ROOT, "%d / %d MiB", anonPeak(0, half()) / 1024,
                anonPeak(half(), h.seconds + 0.5) / 1024));
        row(b, "CPU during the run (coordinator / harness)", String.format(Locale.ROOT, "%.2f / %.2f cores", coordinatorCores(), harnessCores()));
        row(b, "coordinator exit code after SIGTERM (143: ended by the signal after its shutdown hook)", Integer.toString(exit));
        b.append('\n');
        section(b, "Rejected, by reason", grouped("rejected"));
        section(b, "Failed, by status", grouped("failed"));
        section(b, "Client-side errors", grouped("client-error"));
        if (!lateStatus.isEmpty()) {
            b.append("Accepted proposals the watch did not show merged, with the coordinator's status after the drain: ")
                    .append(new TreeMap<>(lateStatus)).append("\n\n");
        }
        if (!watchErrors.isEmpty()) {
            b.append("Watch/fetch errors: ").append(watchErrors.subList(0, Math.min(10, watchErrors.size()))).append("\n\n");
        }
        b.append("Coordinator process (`/proc/PID`), sampled every second; t = 0 is the load's start, every 5th sample shown:\n\n");
        b.append("| t (s) | VmRSS (MiB) | RssAnon | RssFile | threads | open fds | CPU (cores, since last row) |\n|---|---|---|---|---|---|---|\n");
        CoordinatorChild.Sample prev = null;
        for (int i = 0; i < samples.size(); i++) {
            CoordinatorChild.Sample s = samples.get(i);
            boolean last = i == samples.size() - 1;
            if (s.t() < -0.5 && !last && i != 0 || (Math.round(s.t()) % 5 != 0 && !last)) {
                continue;
            }
            String cores = prev == null ? "" : String.format(Locale.ROOT, "%.2f", (s.cpuSeconds() - prev.cpuSeconds()) / (s.t() - prev.t()));
            b.append(String.format(Locale.ROOT, "| %.0f | %d | %d | %d | %d | %d | %s |%n", s.t(), s.rssKb() / 1024, s.anonKb() / 1024,
                    s.fileKb() / 1024, s.threads(), s.fds(), cores));
            prev = s;
        }
        b.append("\n![coordinator RSS](").append(name).append("-rss.svg)\n\n");
        b.append("The coordinator's heap after the run, before and after a full GC (`jcmd PID GC.heap_info`, `GC.run`):\n\n```\n")
                .append(heap.strip()).append("\n```\n");
        return b.toString();
    }

    private static void row(StringBuilder b, String k, String v) {
        b.append("| ").append(k).append(" | ").append(v).append(" |\n");
    }

    private static void section(StringBuilder b, String title, Map<String, Integer> counts) {
        if (counts.isEmpty()) {
            return;
        }
        b.append(title).append(":\n\n| count | reason |\n|---|---|\n");
        counts.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
                .forEach(e -> b.append("| ").append(e.getValue()).append(" | ").append(e.getKey().replace("|", "\\|")).append(" |\n"));
        b.append('\n');
    }

    private ObjectNode json(ObjectMapper m) {
        List<Double> lat = mergeLatencies();
        ObjectNode n = m.createObjectNode();
        n.put("command", command()).put("time", when.toString()).put("loadavg_before", loadBefore).put("loadavg_after", loadAfter);
        n.put("contributors", h.contributors).put("seconds", h.seconds).put("policy", h.policy).put("model", h.model)
                .put("parameters", params).put("density", h.density).put("interval_seconds", h.interval)
                .put("staleness_limit", h.stalenessLimit).put("kafka", h.kafka);
        n.put("pushes_answered", pushes.size()).put("accepted", acceptedCount()).put("answered_merged", count("merged"))
                .put("rejected", count("rejected")).put("failed", count("failed")).put("client_errors", count("client-error"))
                .put("stranded", stranded()).put("unanswered", unanswered()).put("merged_seen_on_watch", mergedByWatch())
                .put("merged_twice", mergedTwice());
        n.putPOJO("rejected_reasons", grouped("rejected"));
        n.putPOJO("failed_reasons", grouped("failed"));
        n.putPOJO("client_error_reasons", grouped("client-error"));
        ObjectNode l = n.putObject("push_to_merged_seconds");
        l.put("count", lat.size()).put("p50", pct(lat, .5)).put("p95", pct(lat, .95)).put("p99", pct(lat, .99)).put("max", pct(lat, 1));
        n.put("pushes_per_second", pushes.size() / loadEnd).put("merged_per_second", mergedInWindow() / (double) h.seconds)
                .put("versions", versions).put("load_end_seconds", loadEnd).put("drained_seconds", drained);
        n.put("rss_peak_first_half_mib", firstHalfPeak() / 1024).put("rss_peak_second_half_mib", secondHalfPeak() / 1024)
                .put("rss_flat", rssFlat())
                .put("rss_anon_peak_first_half_mib", anonPeak(0, half()) / 1024).put("rss_anon_peak_second_half_mib", anonPeak(half(), h.seconds + 0.5) / 1024).put("rss_second_half_slope_mib_per_min", secondHalfSlope());
        n.put("coordinator_cores", coordinatorCores()).put("harness_cores", harnessCores()).put("coordinator_exit", exit);
        ArrayNode s = n.putArray("samples");
        for (CoordinatorChild.Sample x : samples) {
            s.addObject().put("t", Math.round(x.t() * 10) / 10.0).put("rss_kib", x.rssKb()).put("rss_anon_kib", x.anonKb())
                    .put("rss_file_kib", x.fileKb()).put("threads", x.threads()).put("fds", x.fds())
                    .put("cpu_seconds", x.cpuSeconds());
        }
        Map<Long, long[]> perSecond = new LinkedHashMap<>();
        for (Push p : pushes) {
            long sec = (long) Math.floor((p.answerNs() - zero) / 1e9);
            long[] c = perSecond.computeIfAbsent(sec, k -> new long[2]);
            c[0]++;
            if (p.outcome().equals("failed")) {
                c[1]++;
            }
        }
        ArrayNode ps = n.putArray("answers_per_second");
        new TreeMap<>(perSecond).forEach((k, v) -> ps.addObject().put("t", k).put("answered", v[0]).put("failed", v[1]));
        return n;
    }

    /** VmRSS over time as a small line plot, the load window shaded. */
    private String svg() {
        int w = 640;
        int hgt = 240;
        int left = 60;
        int right = 10;
        int top = 20;
        int bottom = 30;
        double t0 = samples.stream().mapToDouble(CoordinatorChild.Sample::t).min().orElse(0);
        double t1 = samples.stream().mapToDouble(CoordinatorChild.Sample::t).max().orElse(1);
        double r1 = Math.max(1, samples.stream().mapToLong(CoordinatorChild.Sample::rssKb).max().orElse(1) / 1024.0 * 1.1);
        java.util.function.DoubleUnaryOperator x = t -> left + (t - t0) / Math.max(1e-9, t1 - t0) * (w - left - right);
        java.util.function.DoubleUnaryOperator y = r -> top + (1 - r / r1) * (hgt - top - bottom);
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"11\">%n", w, hgt));
        b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#eef\"/>%n", x.applyAsDouble(0), top,
                x.applyAsDouble(h.seconds) - x.applyAsDouble(0), hgt - top - bottom));
        b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\">load (%d contributors, %s)</text>%n", x.applyAsDouble(0) + 4, top + 12,
                h.contributors, h.policy));
        b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", left, hgt - bottom, w - right, hgt - bottom));
        b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", left, top, left, hgt - bottom));
        for (int i = 0; i <= 4; i++) {
            double r = r1 * i / 4;
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f MiB</text>%n", left - 4, y.applyAsDouble(r) + 4, r));
        }
        for (int i = 0; i <= 4; i++) {
            double t = t0 + (t1 - t0) * i / 4;
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.0f s</text>%n", x.applyAsDouble(t), hgt - 10, t));
        }
        b.append("<polyline fill=\"none\" stroke=\"#c00\" stroke-width=\"1.5\" points=\"");
        for (CoordinatorChild.Sample s : samples) {
            b.append(String.format(Locale.ROOT, "%.1f,%.1f ", x.applyAsDouble(s.t()), y.applyAsDouble(s.rssKb() / 1024.0)));
        }
        b.append("\"/>\n<polyline fill=\"none\" stroke=\"#06c\" stroke-width=\"1\" stroke-dasharray=\"4 2\" points=\"");
        for (CoordinatorChild.Sample s : samples) {
            b.append(String.format(Locale.ROOT, "%.1f,%.1f ", x.applyAsDouble(s.t()), y.applyAsDouble(s.anonKb() / 1024.0)));
        }
        b.append("\"/>\n<text x=\"").append(left + 4).append("\" y=\"").append(top - 6).append("\">coordinator VmRSS (red), RssAnon (blue, dashed)</text>\n</svg>\n");
        return b.toString();
    }
}
