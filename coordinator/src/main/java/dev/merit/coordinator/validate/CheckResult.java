package dev.merit.coordinator.validate;

/** One validator's verdict on a proposal, kept with it and in the merge commit's provenance. */
public record CheckResult(String name, boolean passed, String detail) {

    public static CheckResult pass(String name, String detail) {
        return new CheckResult(name, true, detail);
    }

    public static CheckResult fail(Rejection r) {
        return new CheckResult(r.check(), false, r.getMessage());
    }
}
