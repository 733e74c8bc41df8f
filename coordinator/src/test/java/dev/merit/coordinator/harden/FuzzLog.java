package dev.merit.coordinator.harden;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a protocol fuzz run saw: how each category was answered, and each input whose answer broke
 * the contract, with what was sent, so a failure can be read and replayed from the seed.
 */
final class FuzzLog {

    private static final int MAX_FAILURES = 25;

    private final String transport;
    private final long seed;
    private final Map<String, Map<String, Integer>> answers = new TreeMap<>();
    private final List<String> failures = new ArrayList<>();
    private int cases;

    FuzzLog(String transport, long seed) {
        this.transport = transport;
        this.seed = seed;
    }

    void answered(String category, String answer) {
        cases++;
        answers.computeIfAbsent(category, k -> new TreeMap<>()).merge(answer, 1, Integer::sum);
    }

    void failed(int index, String category, String input, String answer) {
        if (failures.size() < MAX_FAILURES) {
            failures.add("#" + index + " [" + category + "] answered " + Hostile.shorten(answer, 600) + "\n    input: "
                    + Hostile.shorten(input, 1500));
        }
    }

    boolean tooManyFailures() {
        return failures.size() >= MAX_FAILURES;
    }

    int cases() {
        return cases;
    }

    List<String> failures() {
        return failures;
    }

    String summary() {
        StringBuilder b = new StringBuilder(transport + " fuzz, seed " + seed + ": " + cases + " inputs\n");
        answers.forEach((cat, m) -> b.append("  ").append(cat).append(": ").append(m).append('\n'));
        return b.toString();
    }

    String report() {
        return summary() + failures.size() + " broke the contract (replay with -Dmerit.fuzz.protocol.seed=" + seed + "):\n  "
                + String.join("\n  ", failures);
    }
}
