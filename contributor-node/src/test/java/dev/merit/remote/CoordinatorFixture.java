package dev.merit.remote;

import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.coordinator.validate.QualityGate;
import dev.merit.coordinator.validate.ValidationConfig;
import dev.merit.safetensors.SafetensorsFile;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Path;
import java.security.KeyPair;

/** A coordinator on 127.0.0.1 with a published base model and a contributor 'alice' whose key is registered. */
final class CoordinatorFixture implements AutoCloseable {

    final Path dir;
    final Coordinator coord;
    final String url;
    final String admin;
    final String alice;
    final KeyPair aliceKey;
    final Path base;
    final ObjectId v0;

    CoordinatorFixture(Path dir, PolicyConfig policy, ValidationConfig validation, QualityGate gate) {
        this(dir, policy, validation, gate, b -> b);
    }

    /** As above, with {@code extra} applied to the coordinator's builder (HTTP port, Kafka). */
    CoordinatorFixture(Path dir, PolicyConfig policy, ValidationConfig validation, QualityGate gate,
                       java.util.function.UnaryOperator<Coordinator.Builder> extra) {
        this.dir = dir;
        this.base = TestModels.builder().seed(5).tensor("a", DType.F32, 200, 100).tensor("big", DType.F32, 1000, 1000)
                .tensor("ids", DType.I32, 8).write(dir.resolve("base.safetensors"));
        Coordinator.Builder b = Coordinator.builder(dir.resolve("server")).listen("127.0.0.1", 0).policy(policy).validation(validation);
        if (gate != null) {
            b.qualityGate(gate);
        }
        this.coord = extra.apply(b).start();
        this.url = "merit://127.0.0.1:" + coord.port();
        this.admin = coord.initialAdminToken().orElseThrow();
        try (Repository local = Repository.init(dir.resolve("maint")); SafetensorsFile f = SafetensorsFile.open(base);
             RemoteClient c = RemoteClient.connect(url, admin)) {
            ObjectId id = local.commit().setSource(f).setMessage("base").call().id();
            c.publish(local, "main", id, ProgressListener.NONE);
            this.v0 = id;
            this.alice = c.createToken("alice", RemoteIdentity.Role.CONTRIBUTOR);
        }
        this.aliceKey = dev.merit.wire.Ed25519.generate();
        try (RemoteClient c = client(alice)) {
            c.registerKey(aliceKey.getPublic().getEncoded());
        }
    }

    RemoteClient client(String token) {
        return RemoteClient.connect(url, token);
    }

    ObjectId head() {
        return coord.versions().requireHead("main");
    }

    /** Alice's signed proposal of {@code tuned} against version {@code baseCommit} (whose file is {@code baseFile}). */
    ProposalUpload proposal(Path baseFile, Path tuned, ObjectId baseCommit) {
        try (SafetensorsFile b = SafetensorsFile.open(baseFile); SafetensorsFile t = SafetensorsFile.open(tuned)) {
            return new ProposalBuilder(b, t).build("main", baseCommit.name(), "alice", 0, "test", aliceKey.getPrivate());
        }
    }

    @Override
    public void close() {
        coord.close();
    }
}
