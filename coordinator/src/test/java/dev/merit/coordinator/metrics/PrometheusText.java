package dev.merit.coordinator.metrics;

import java.util.LinkedHashMap;
import java.util.Map;

/** A small reader of the Prometheus text format for tests: sample {@code name{labels}} to value. */
public final class PrometheusText {

    private PrometheusText() {}

    public static Map<String, Double> parse(String text) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            // The value follows the last space outside the label set (label values may hold spaces).
            int close = line.lastIndexOf('}');
            int space = line.indexOf(' ', Math.max(close, 0));
            String sample = line.substring(0, space);
            String rest = line.substring(space + 1).trim();
            String value = rest.contains(" ") ? rest.substring(0, rest.indexOf(' ')) : rest;
            out.put(sample, switch (value) {
                case "+Inf" -> Double.POSITIVE_INFINITY;
                case "-Inf" -> Double.NEGATIVE_INFINITY;
                case "NaN" -> Double.NaN;
                default -> Double.parseDouble(value);
            });
        }
        return out;
    }
}
