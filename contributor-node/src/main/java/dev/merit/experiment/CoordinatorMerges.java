package dev.merit.experiment;

import dev.merit.cli.CoordinatorProcess;
import dev.merit.error.MeritException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.ProposalBuilder;
import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteIdentity;
import dev.merit.remote.RemoteProposal;
import dev.merit.safetensors.Safetensors;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import dev.merit.train.ModelSpec;
import dev.merit.wire.Ed25519;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Merges through a real coordinator: {@code merit serve --policy batch --batch-size K --gate ...}
 * as a child process, the base published on one branch per scenario, and each scenario's K models
 * pushed to its branch as signed proposals (one contributor identity each) through the client
 * {@code merit push} uses. The coordinator validates them (the proposal gate, when on), merges the
 * batch with its strategy (the merge gate, when on) and the branch's head is scored on the test
 * images.
 */
final class CoordinatorMerges {

    /**
     * What the coordinator made of one branch's batch.
     *
     * @param accuracy   test accuracy of the branch's head afterwards (the base's if nothing landed)
     * @param accepted   proposals that passed validation at push time
     * @param merged     proposals the merge commit holds
     * @param leftOut    names (c0, c1, ...) of the accepted proposals the coordinator refused at merge time
     */
    record Outcome(double accuracy, int accepted, int merged, List<String> leftOut) {}

    private final Lab lab;
    private final ModelSpec spec;
    private final Path data;
    private final PrintWriter log;

    /** {@code data}: the MNIST-format folder the gate scores on (null: Merit's default data). */
    CoordinatorMerges(Lab lab, ModelSpec spec, Path data, PrintWriter log) {
        this.lab = lab;
        this.spec = spec;
        this.data = data;
        this.log = log;
    }

    /**
     * Starts a coordinator in {@code dir} with {@code serveArgs} (strategy, gate), publishes
     * {@code base} on every branch of {@code models} (branch → the files its K contributors push,
     * contributor i pushing the i-th), pushes, waits until every proposal is merged or refused, and
     * scores each branch's head.
     */
    Map<String, Outcome> run(Path dir, Path base, Map<String, List<Path>> models, List<String> serveArgs) throws IOException,
            InterruptedException {
        Files.createDirectories(dir);
        long t0 = System.nanoTime();
        int k = models.values().iterator().next().size();
        List<String> args = new ArrayList<>(List.of("--data", "coordinator", "--http-port", "-1", "--kafka", "none",
                "--policy", "batch", "--batch-size", Integer.toString(k), "--batch-seconds", "10",
                "--gate", data == null ? "default" : data.toAbsolutePath().toString(), "--gate-examples", "2000"));
        args.addAll(serveArgs);
        Map<String, Outcome> out = new LinkedHashMap<>();
        try (CoordinatorProcess coord = CoordinatorProcess.start(dir, log, args.toArray(String[]::new));
             Repository local = Repository.init(dir.resolve("maintainer"));
             RemoteClient admin = RemoteClient.connect(coord.url(), coord.adminToken())) {
            ObjectId v0;
            try (TensorSource b = Safetensors.open(base)) {
                v0 = local.commit().setSource(b).setMessage("base").call().id();
            }
            for (String branch : models.keySet()) {
                admin.publish(local, branch, v0, ProgressListener.NONE);
            }
            List<String> tokens = new ArrayList<>();
            List<KeyPair> keys = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                tokens.add(admin.createToken("c" + i, RemoteIdentity.Role.CONTRIBUTOR));
                KeyPair kp = Ed25519.generate();
                keys.add(kp);
                try (RemoteClient c = RemoteClient.connect(coord.url(), tokens.get(i))) {
                    c.registerKey(kp.getPublic().getEncoded());
                }
            }
            Map<String, Map<String, String>> idToName = new LinkedHashMap<>();
            for (var e : models.entrySet()) {
                Map<String, String> ids = new LinkedHashMap<>();
                for (int i = 0; i < k; i++) {
                    try (TensorSource b = Safetensors.open(base); TensorSource m = Safetensors.open(e.getValue().get(i));
                         RemoteClient c = RemoteClient.connect(coord.url(), tokens.get(i))) {
                        // Every contributor claims the same example count, so the batch's weights are equal (as in the offline merges).
                        RemoteProposal p = c.push(new ProposalBuilder(b, m).build(e.getKey(), v0.name(), "c" + i, 1000,
                                e.getKey() + " from c" + i, keys.get(i).getPrivate()), ProgressListener.NONE).proposal();
                        ids.put(p.id(), "c" + i);
                    }
                }
                idToName.put(e.getKey(), ids);
            }
            for (var e : idToName.entrySet()) {
                String branch = e.getKey();
                List<RemoteProposal> ps = settled(admin, branch, e.getValue().size());
                int accepted = 0;
                int merged = 0;
                List<String> leftOut = new ArrayList<>();
                for (RemoteProposal p : ps) {
                    boolean passedAtPush = p.checks().stream().noneMatch(c -> !c.passed());
                    if (passedAtPush) {
                        accepted++;
                    }
                    if (p.status() == RemoteProposal.Status.MERGED) {
                        merged++;
                    } else {
                        if (passedAtPush) {
                            leftOut.add(e.getValue().get(p.id()));
                        }
                        log.printf("    %s %s rejected: %s%n", branch, e.getValue().get(p.id()), String.join("; ", p.reasons()));
                    }
                }
                RemoteBranch b = admin.branch(branch).orElseThrow();
                double acc;
                if (b.head().equals(v0)) {
                    acc = lab.accuracy(spec, base);
                } else {
                    admin.fetch(local, branch, new LocalConfig(local).haves(), ProgressListener.NONE);
                    try (TensorSource head = local.openVersion(b.head())) {
                        acc = lab.accuracy(spec, head);
                    }
                }
                leftOut.sort(null);
                out.put(branch, new Outcome(acc, accepted, merged, leftOut));
                log.printf(java.util.Locale.ROOT, "  coordinator %s, branch %s: %d accepted, %d merged, left out %s: %.2f%% (%.0f s)%n",
                        String.join(" ", serveArgs), branch, accepted, merged, leftOut, 100 * acc, (System.nanoTime() - t0) / 1e9);
                log.flush();
            }
        }
        return out;
    }

    /** The branch's proposals once none waits any more (merged or refused), within 5 minutes. */
    private static List<RemoteProposal> settled(RemoteClient admin, String branch, int n) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
        while (System.nanoTime() < until) {
            List<RemoteProposal> ps = admin.proposals(branch, Optional.empty(), 100);
            if (ps.size() >= n && ps.stream().noneMatch(p -> p.status() == RemoteProposal.Status.ACCEPTED)) {
                return ps;
            }
            Thread.sleep(200);
        }
        throw new MeritException("the coordinator left proposals of branch '" + branch + "' waiting for 5 minutes");
    }
}
