package dev.merit.store;

import java.util.List;

/** Result of {@link Repository#fsck}: how many objects were checked and what was wrong. */
public record FsckReport(long checked, List<String> problems) {
    public FsckReport {
        problems = List.copyOf(problems);
    }

    public boolean ok() {
        return problems.isEmpty();
    }
}
