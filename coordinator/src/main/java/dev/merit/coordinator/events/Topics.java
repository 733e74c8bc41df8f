package dev.merit.coordinator.events;

import java.util.List;

/** Kafka topics a coordinator publishes to. */
public final class Topics {

    /** Every accepted or rejected proposal, keyed by proposal id ({@link ProposalEvent}). */
    public static final String PROPOSALS = "merit.proposals";

    /** Every new version on a branch, keyed by branch ({@link VersionEvent}). */
    public static final String VERSIONS = "merit.versions";

    /** Record header carrying the outbox sequence number (8 bytes, big-endian) of each event. */
    public static final String SEQUENCE_HEADER = "merit-seq";

    static final List<String> ALL = List.of(PROPOSALS, VERSIONS);

    private Topics() {}
}
