package dev.merit.remote;

/** Who a token belongs to on a coordinator, and whether a signing key is registered for them. */
public record RemoteIdentity(String name, Role role, boolean hasKey) {

    /** What a token may do: read, also propose, also review and administer. */
    public enum Role { READER, CONTRIBUTOR, MAINTAINER }
}
