package dev.merit.remote;

import dev.merit.store.ObjectId;

/**
 * A branch as the coordinator has it.
 *
 * @param number first-parent depth of the head: the version number staleness is measured in
 */
public record RemoteBranch(String name, ObjectId head, long number) {}
