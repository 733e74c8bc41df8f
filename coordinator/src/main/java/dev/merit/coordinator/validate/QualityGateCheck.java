package dev.merit.coordinator.validate;

import dev.merit.codec.DecodeOptions;
import dev.merit.codec.DeltaCodec;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.safetensors.SafetensorsWriter;
import dev.merit.store.ObjectId;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorInfo;
import dev.merit.wire.ProposalSpec;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * Scores the candidate model (head + the proposal's delta, written to a temp file) against the
 * head with the gate's evaluator; the head's score is kept per head version.
 */
public final class QualityGateCheck implements PayloadValidator {

    private final QualityGate gate;
    private final Repository repo;
    private final Function<String, ObjectId> headOf;
    private final Path tmp;
    private final Map<ObjectId, Double> headScores = new ConcurrentHashMap<>();

    /** {@code headOf} gives a branch's head; candidates are written under {@code tmp}. */
    public QualityGateCheck(QualityGate gate, Repository repo, Function<String, ObjectId> headOf, Path tmp) {
        this.gate = gate;
        this.repo = repo;
        this.headOf = headOf;
        this.tmp = tmp;
    }

    @Override
    public CheckResult check(ProposalSpec spec, Ingest.Summary sum, Payload payload) throws Rejection {
        ObjectId head = headOf.apply(spec.branch());
        double headScore = headScores.computeIfAbsent(head, h -> {
            try (SafetensorsFile f = repo.openVersion(h)) {
                return gate.evaluator().score(f);
            }
        });
        Path candidate = null;
        try {
            Files.createDirectories(tmp);
            candidate = Files.createTempFile(tmp, "candidate-", ".safetensors");
            try (SafetensorsFile base = repo.openVersion(head)) {
                try (SafetensorsWriter w = SafetensorsWriter.create(candidate, base.tensors(), base.metadata())) {
                    for (TensorInfo t : base.tensors()) {
                        MemorySegment.copy(base.data(t.name()), 0, w.segment(t.name()), 0, t.byteSize());
                    }
                    long at = 0;
                    for (ProposalSpec.Part p : spec.parts()) {
                        byte[] delta = payload.read(at, Math.toIntExact(p.deltaBytes()));
                        try (Arena arena = Arena.ofConfined()) {
                            MemorySegment enc = arena.allocate(delta.length, 8);
                            MemorySegment.copy(MemorySegment.ofArray(delta), 0, enc, 0, delta.length);
                            DeltaCodec.decode(enc, DecodeOptions.defaults().expecting(p.info()), arena)
                                    .applyInPlace(w.segment(p.info().name()));
                        }
                        at += p.bytes();
                    }
                    w.finish();
                }
            }
            try (SafetensorsFile c = SafetensorsFile.open(candidate)) {
                return gate.check(headScore, gate.evaluator().score(c));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("quality gate: " + e.getMessage(), e);
        } finally {
            if (candidate != null) {
                try {
                    Files.deleteIfExists(candidate);
                } catch (IOException ignored) {
                    // a leftover temp file is harmless; the next start clears tmp
                }
            }
        }
    }
}
