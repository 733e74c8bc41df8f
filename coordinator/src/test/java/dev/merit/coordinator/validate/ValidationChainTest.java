package dev.merit.coordinator.validate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.error.InvalidInputException;
import dev.merit.tensor.DType;
import dev.merit.tensor.TensorInfo;
import dev.merit.wire.Ed25519;
import dev.merit.wire.ProposalDigest;
import dev.merit.wire.ProposalSpec;
import java.security.KeyPair;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The validators one at a time and as a chain, on crafted headers: no repository, no transport. */
class ValidationChainTest {

    private static final String BASE = "ab".repeat(32);
    private static final List<TensorInfo> LAYOUT = List.of(TensorInfo.of("w", DType.F32, 10, 4), TensorInfo.of("ids", DType.I32, 8),
            TensorInfo.of("b", DType.BF16, 4));
    private static final KeyPair ALICE = Ed25519.generate();
    private static final Map<String, byte[]> KEYS = Map.of("alice", ALICE.getPublic().getEncoded());

    /** A signed header over {@code payload}: one part per tensor given, delta bytes then Fisher bytes. */
    private static ProposalSpec signed(KeyPair key, List<ProposalSpec.Part> parts, byte[] payload) {
        ProposalSpec unsigned = new ProposalSpec("main", BASE, "alice", 10, "m", parts, new byte[32], new byte[0]);
        byte[] digest = ProposalDigest.start(unsigned).update(payload, 0, payload.length).finish();
        return new ProposalSpec("main", BASE, "alice", 10, "m", parts, digest, Ed25519.sign(key.getPrivate(), digest));
    }

    private static ProposalSpec spec(List<ProposalSpec.Part> parts) {
        return signed(ALICE, parts, new byte[(int) parts.stream().mapToLong(ProposalSpec.Part::bytes).sum()]);
    }

    private static ProposalSpec.Part part(TensorInfo t, long delta, long fisher) {
        return new ProposalSpec.Part(t, delta, fisher);
    }

    private static ValidationChain chain(ValidationConfig config, long staleness, Optional<String> duplicateOf) {
        BaseLayouts layouts = s -> LAYOUT;
        StalenessCheck st = new StalenessCheck((base, branch) -> staleness, config);
        return new ValidationChain(config,
                List.of(new DuplicateCheck(d -> duplicateOf), new SignatureCheck(name -> Optional.ofNullable(KEYS.get(name))), st, new StructureCheck(layouts, config)),
                List.of(st, new NumbersCheck(layouts, config), new DigestCheck()));
    }

    private static Rejection rejection(ValidationChain.Outcome o) {
        return o.rejection().orElseThrow(() -> new AssertionError("expected a rejection, passed " + o.passed()));
    }

    @Test
    void aGoodHeaderPassesEveryValidatorInOrder() {
        ValidationChain.Outcome o = chain(ValidationConfig.defaults(), 2, Optional.empty()).header(spec(List.of(part(LAYOUT.get(0), 40, 0))));
        assertTrue(o.rejection().isEmpty(), () -> o.rejection().get().getMessage());
        assertEquals(List.of("duplicate", "signature", "staleness", "structure"), o.passed().stream().map(CheckResult::name).toList());
        assertTrue(o.passed().get(2).detail().startsWith("2 versions behind, weight 0.577"), o.passed().get(2).detail());
    }

    @Test
    void theFirstFailureStopsTheChainAndKeepsWhatPassedBefore() {
        ValidationChain.Outcome dup = chain(ValidationConfig.defaults(), 0, Optional.of("p7")).header(spec(List.of(part(LAYOUT.get(0), 40, 0))));
        assertEquals("duplicate", rejection(dup).check());
        assertTrue(rejection(dup).getMessage().startsWith("same digest as proposal p7"), rejection(dup).getMessage());
        assertEquals(List.of(), dup.passed());

        ProposalSpec byMallory = signed(Ed25519.generate(), List.of(part(LAYOUT.get(0), 4, 0)), new byte[4]);
        ValidationChain.Outcome forged = chain(ValidationConfig.defaults(), 0, Optional.empty()).header(byMallory);
        assertEquals("signature", rejection(forged).check());
        assertTrue(rejection(forged).getMessage().contains("does not verify against the registered key"), rejection(forged).getMessage());
        assertEquals(List.of("duplicate"), forged.passed().stream().map(CheckResult::name).toList());

        ValidationChain.Outcome stale = chain(ValidationConfig.defaults(), 11, Optional.empty()).header(spec(List.of(part(LAYOUT.get(0), 4, 0))));
        assertEquals("staleness", rejection(stale).check());
        assertEquals("base version abababababab is 11 versions behind the head of 'main' (limit 10)", rejection(stale).getMessage());
    }

    @Test
    void anUnknownBaseIsAStalenessRejectionNamingIt() {
        StalenessCheck st = new StalenessCheck((base, branch) -> {
            throw new InvalidInputException("base version " + base.abbreviate(12) + " is not in the history of branch '" + branch + "'");
        }, ValidationConfig.defaults());
        Rejection r = assertThrows(Rejection.class, () -> st.check(spec(List.of(part(LAYOUT.get(0), 4, 0)))));
        assertEquals("base version abababababab is not in the history of branch 'main'", r.getMessage());
    }

    @Test
    void structureNamesTheTensorThatIsWrong() {
        StructureCheck s = new StructureCheck(spec -> LAYOUT, ValidationConfig.defaults());
        assertEquals("tensor 'x' is not in the base version", assertThrows(Rejection.class,
                () -> s.check(spec(List.of(part(TensorInfo.of("x", DType.F32, 2), 4, 0))))).getMessage());
        assertEquals("tensor 'w': F32 [10, 5] != base F32 [10, 4]", assertThrows(Rejection.class,
                () -> s.check(spec(List.of(part(TensorInfo.of("w", DType.F32, 10, 5), 4, 0))))).getMessage());
        assertEquals("tensor 'ids' is I32; only floating-point tensors can change", assertThrows(Rejection.class,
                () -> s.check(spec(List.of(part(LAYOUT.get(1), 4, 0))))).getMessage());
        assertEquals("tensor 'w' is listed twice or out of the base's order", assertThrows(Rejection.class,
                () -> s.check(spec(List.of(part(LAYOUT.get(2), 4, 0), part(LAYOUT.get(0), 4, 0))))).getMessage());
        assertEquals("a Fisher is given for some changed tensors but not all", assertThrows(Rejection.class,
                () -> s.check(spec(List.of(part(LAYOUT.get(0), 4, 8), part(LAYOUT.get(2), 4, 0))))).getMessage());
        StructureCheck needsFisher = new StructureCheck(spec -> LAYOUT, ValidationConfig.defaults().withRequireFisher(true));
        assertTrue(assertThrows(Rejection.class, () -> needsFisher.check(spec(List.of(part(LAYOUT.get(0), 4, 0)))))
                .getMessage().startsWith("this coordinator merges with a Fisher-weighted strategy"));
        assertEquals("structure", assertThrows(Rejection.class, () -> s.check(spec(List.of()))).check());
    }

    @Test
    void payloadChecksBoundTheNumbersAndConfirmTheDigest() {
        ProposalSpec spec = spec(List.of(part(LAYOUT.get(0), 40, 0)));
        // 10 of the base's 52 entries changed, L2 norm 3.
        Ingest.Summary sum = new Ingest.Summary(10, 3.0, new double[] {3.0}, new long[] {10}, spec.digest());
        ValidationChain ok = chain(ValidationConfig.defaults(), 0, Optional.empty());
        ValidationChain.Outcome o = ok.payload(spec, sum, (at, n) -> new byte[n]);
        assertTrue(o.rejection().isEmpty());
        assertEquals(List.of("numbers", "digest"), o.passed().stream().map(CheckResult::name).toList(), "staleness re-checked, not re-recorded");
        assertEquals("finite; L2 norm 3.00000; density 0.192308", o.passed().get(0).detail());

        ValidationChain dense = chain(ValidationConfig.defaults().withDensity(0, 0.1), 0, Optional.empty());
        assertEquals("density 0.192308 (10 of 52 entries) is outside [0.00000, 0.100000]", rejection(dense.payload(spec, sum, (at, n) -> new byte[n])).getMessage());
        ValidationChain bounded = chain(ValidationConfig.defaults().withNorms(10, 2.5), 0, Optional.empty());
        assertEquals("L2 norm of the whole change 3.00000 exceeds the limit 2.50000", rejection(bounded.payload(spec, sum, (at, n) -> new byte[n])).getMessage());

        Ingest.Summary otherBytes = new Ingest.Summary(10, 3.0, new double[] {3.0}, new long[] {10}, new byte[32]);
        assertEquals("digest", rejection(ok.payload(spec, otherBytes, (at, n) -> new byte[n])).check());

        ValidationChain moved = chain(ValidationConfig.defaults(), 12, Optional.empty());
        Rejection r = rejection(moved.payload(spec, sum, (at, n) -> new byte[n]));
        assertEquals("the head of 'main' moved during the upload: the base is now 12 versions behind (limit 10)", r.getMessage());
    }
}
