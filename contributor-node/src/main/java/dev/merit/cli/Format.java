package dev.merit.cli;

import java.util.Locale;

/** Human-readable numbers for command output. */
final class Format {

    private Format() {}

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        String[] units = {"KiB", "MiB", "GiB", "TiB"};
        double v = n;
        int u = -1;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.1f %s", v, units[u]);
    }

    static String percent(double fraction) {
        if (fraction == 0) {
            return "0%";
        }
        double p = fraction * 100;
        return String.format(Locale.ROOT, p >= 10 ? "%.1f%%" : p >= 0.01 ? "%.2f%%" : "%.2e%%", p);
    }

    static String num(double v) {
        if (v == 0) {
            return "0";
        }
        if (Double.isInfinite(v) || Double.isNaN(v)) {
            return Double.toString(v);
        }
        double a = Math.abs(v);
        return String.format(Locale.ROOT, a >= 1e4 || a < 1e-3 ? "%.3e" : "%.4g", v);
    }
}
