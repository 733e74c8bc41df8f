package dev.merit.coordinator.policy;

import dev.merit.error.InvalidInputException;
import java.util.Locale;

/** When accepted proposals are merged. */
public enum MergePolicy {
    /** A maintainer approves each proposal, which then merges at once. */
    MANUAL,
    /** Each accepted proposal merges at once. */
    AUTO,
    /** Every N accepted proposals, or T after the oldest waiting one, whichever comes first. */
    BATCH;

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static MergePolicy parse(String s) {
        for (MergePolicy p : values()) {
            if (p.id().equalsIgnoreCase(s.trim())) {
                return p;
            }
        }
        throw new InvalidInputException("unknown merge policy '" + s + "' (known: manual, auto, batch)");
    }
}
