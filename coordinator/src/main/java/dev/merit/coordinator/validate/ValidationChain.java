package dev.merit.coordinator.validate;

import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorInfo;
import dev.merit.wire.ProposalSpec;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;

/**
 * Every check a proposal goes through, in order: header validators before any payload byte, the
 * streaming checks of {@link Ingest} while it arrives, payload validators once it is whole. The
 * first failure decides; the results before it are kept with the proposal.
 *
 * <pre>{@code
 * ValidationChain chain = ValidationChain.standard(config, repo, distances, keys::find, keys::refuseIfSignedByFormerKey, store::byDigest, headOf, gate, tmp);
 * ValidationChain.Outcome o = chain.header(spec);   // o.rejection() empty: read the payload
 * }</pre>
 */
public final class ValidationChain {

    /** What a stage found: the checks that passed, and the rejection that stopped it, if any. */
    public record Outcome(List<CheckResult> passed, Optional<Rejection> rejection) {
        public Outcome {
            passed = List.copyOf(passed);
        }
    }

    private final ValidationConfig config;
    private final List<Validator> header;
    private final List<PayloadValidator> payload;

    public ValidationChain(ValidationConfig config, List<Validator> header, List<PayloadValidator> payload) {
        this.config = config;
        this.header = List.copyOf(header);
        this.payload = List.copyOf(payload);
    }

    /**
     * The coordinator's checks: duplicate, signature, staleness and structure on the header;
     * staleness again, numbers, digest and (when given) the quality gate on the payload.
     *
     * @param distances          versions between a base and its branch's head
     * @param registeredKey      a contributor's current public key
     * @param formerKeys         refuses signatures by a contributor's superseded or revoked keys
     * @param proposalWithDigest the stored proposal with a digest (hex)
     * @param tmp                where the quality gate writes candidate models
     */
    public static ValidationChain standard(ValidationConfig config, Repository repo, StalenessCheck.Distances distances,
                                           Function<String, Optional<byte[]>> registeredKey,
                                           SignatureCheck.FormerKeys formerKeys,
                                           Function<String, Optional<String>> proposalWithDigest,
                                           Function<String, ObjectId> headOf, Optional<QualityGate> gate, Path tmp) {
        BaseLayouts layouts = spec -> baseLayout(repo, spec);
        StalenessCheck staleness = new StalenessCheck(distances, config);
        List<PayloadValidator> payload = new ArrayList<>(List.of(staleness, new NumbersCheck(layouts, config), new DigestCheck()));
        gate.ifPresent(g -> payload.add(new QualityGateCheck(g, repo, headOf, tmp)));
        return new ValidationChain(config,
                List.of(new DuplicateCheck(proposalWithDigest), new SignatureCheck(registeredKey, formerKeys), staleness, new StructureCheck(layouts, config)),
                payload);
    }

    /** The layout of the version {@code spec} was computed against, from the coordinator's repository. */
    public static List<TensorInfo> baseLayout(Repository repo, ProposalSpec spec) throws Rejection {
        try {
            return repo.manifestOf(ObjectId.fromString(spec.baseVersion())).layout();
        } catch (RuntimeException e) {
            throw new Rejection("staleness", "base version '" + spec.baseVersion() + "' is unknown to the coordinator");
        }
    }

    public ValidationConfig config() {
        return config;
    }

    /** Runs the header validators. */
    public Outcome header(ProposalSpec spec) {
        List<CheckResult> passed = new ArrayList<>();
        for (Validator v : header) {
            try {
                passed.add(v.check(spec));
            } catch (Rejection r) {
                return new Outcome(passed, Optional.of(r));
            }
        }
        return new Outcome(passed, Optional.empty());
    }

    /** The streaming checks for one upload of {@code spec}. */
    public Ingest ingest(ProposalSpec spec) {
        return new Ingest(spec, config);
    }

    /** Runs the payload validators on a payload that passed the streaming checks. */
    public Outcome payload(ProposalSpec spec, Ingest.Summary summary, PayloadValidator.Payload bytes) {
        List<CheckResult> passed = new ArrayList<>();
        for (PayloadValidator v : payload) {
            try {
                CheckResult c = v.check(spec, summary, bytes);
                if (c != null) {
                    passed.add(c);
                }
            } catch (Rejection r) {
                return new Outcome(passed, Optional.of(r));
            }
        }
        return new Outcome(passed, Optional.empty());
    }
}
