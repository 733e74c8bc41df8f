package dev.merit.store;

/** What {@link CommitCommand#call()} wrote: the new commit's id, the commit, and how the branch moved. */
public record CommitResult(ObjectId id, Commit commit, RefUpdate refUpdate) {}
