package dev.merit.cli;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.codec.ValueCoding;
import dev.merit.error.InvalidInputException;
import dev.merit.error.MeritException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.ProposalUpload;
import dev.merit.remote.RemoteBranch;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteException;
import dev.merit.remote.RemoteProposal;
import dev.merit.remote.RemoteVersion;
import dev.merit.store.Commit;
import dev.merit.store.ObjectId;
import dev.merit.store.ProgressListener;
import dev.merit.store.Repository;
import dev.merit.tensor.TensorSource;
import dev.merit.train.Engines;
import dev.merit.train.Evaluator;
import dev.merit.train.TrainListener;
import dev.merit.train.TrainResult;
import dev.merit.train.TrainRound;
import dev.merit.train.data.DataDir;
import dev.merit.train.data.Examples;
import dev.merit.train.data.ShardSpec;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "daemon", header = "Follow a shared model: train on every new version of the branch and push the update.",
        description = {
            "In a clone: pulls the coordinator's version of the branch, trains a sparse update on the local",
            "shard (as merit train), pushes it signed (as merit push), waits for the next version (the watch",
            "stream) and repeats. While the coordinator is away it retries with backoff. After a crash or a",
            "restart it finds what it already trained and pushed in the repository and on the coordinator, and",
            "never sends the same update twice. SIGTERM stops it between training steps.",
            "One line per round: version, loss, accuracy on the validation split, bytes sent, wall time."})
final class DaemonCommand extends BaseCommand {

    /** Provenance key of commits the daemon trained; its {@code trained_on} names the version. */
    static final String PROVENANCE = "daemon";

    @Parameters(index = "0", arity = "0..1", defaultValue = "origin", paramLabel = "REMOTE", description = "Default: origin.")
    String remote;

    @Option(names = "--branch", description = "Default: the current branch.")
    String branch;

    @Mixin
    TrainingOptions opts;

    @Mixin
    RoundOptions training;

    @Option(names = "--rounds", defaultValue = "0", description = "Stop after pushing R updates (default: run until stopped).")
    int rounds;

    @Option(names = "--values", paramLabel = "exact|fp16|bf16|int8", defaultValue = "fp16",
            description = "How changed values are stored and sent (default ${DEFAULT-VALUE}).")
    String values;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of round 1's batch order; round r uses seed + r - 1 (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--examples", description = "Merge weight sent with each proposal (default: the shard's size).")
    Long examples;

    @Option(names = "--val-examples", defaultValue = "2000", description = "Validation examples scored each round (default ${DEFAULT-VALUE}).")
    int valExamples;

    @Option(names = "--max-backoff", paramLabel = "SECONDS", defaultValue = "10",
            description = "Longest wait between attempts while the coordinator is away (default ${DEFAULT-VALUE}).")
    double maxBackoff;

    @Mixin
    TokenOption auth;

    @Option(names = "--json", description = "One JSON document per line for each event (round, waiting, unavailable, back, stopped).")
    boolean json;

    private final AtomicBoolean stopping = new AtomicBoolean();
    private Examples data;
    private Examples validation;
    private Device device;
    private ValueCoding coding;
    private int done;
    private long outageSince = -1;

    /** Thrown from the training listener when SIGTERM asks the daemon to stop. */
    private static final class Stopped extends RuntimeException {
        Stopped() {
            super("stopped", null, false, false);
        }
    }

    @Override
    int run() throws Exception {
        if (rounds < 0) {
            throw new InvalidInputException("--rounds must be >= 0, got " + rounds);
        }
        coding = CommitCli.parseValues(values);
        training.check();
        DataDir dir = DataDir.of(opts.data == null ? null : path(opts.data));
        data = training.select(dir);
        Examples val = ShardSpec.validation(dir.train());
        validation = val.size() > valExamples ? val.sample(valExamples, 7) : val;
        device = Engines.device(opts.device);

        CountDownLatch finished = new CountDownLatch(1);
        // SIGTERM: ask the loop to stop at the next step or wait, and let it finish before the JVM exits.
        Thread hook = new Thread(() -> {
            stopping.set(true);
            try {
                finished.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "merit-daemon-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try (Repository repo = openRepository()) {
            String br = branch != null ? branch : repo.currentBranch();
            if (!br.equals(repo.currentBranch())) {
                throw new InvalidInputException("--branch " + br + ": the daemon trains the current branch ("
                        + repo.currentBranch() + "); merit switch " + br + " first");
            }
            LocalConfig cfg = new LocalConfig(repo);
            String url = RemoteSupport.url(Optional.of(cfg), remote);
            say("started", n -> n.put("remote", url).put("branch", br).put("data", data.description()).put("examples", data.size()),
                    String.format("merit daemon: following %s %s, training on %s (%d examples)", url, br, data.description(), data.size()));
            double backoff = 0.5;
            while (!stopping.get() && (rounds == 0 || done < rounds)) {
                try (RemoteClient c = auth.connect(Optional.of(cfg), remote)) {
                    follow(repo, cfg, c, br);
                } catch (RemoteException e) {
                    if (!transientFailure(e)) {
                        throw e;
                    }
                    if (outageSince < 0) {
                        outageSince = System.nanoTime();
                        say("unavailable", n -> n.put("error", e.getMessage()),
                                "coordinator unavailable (" + e.getMessage() + "); retrying with backoff up to " + maxBackoff + " s");
                    }
                    sleepUnlessStopping((long) (backoff * 1000));
                    backoff = Math.min(maxBackoff, backoff * 2);
                    continue;
                } catch (Stopped s) {
                    break;
                }
                backoff = 0.5;
            }
            report(stopping.get());
            return ExitCode.OK;
        } catch (RuntimeException | Error e) {
            if (!stopping.get()) {
                throw e;
            }
            // Stopping: the JVM exits as soon as this method returns, before Main could report the failure.
            err().println("merit daemon: while stopping: " + e);
            err().flush();
            report(true);
            return ExitCode.OK;
        } finally {
            out().flush();
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running: it returns now that the loop has finished
            }
        }
    }

    private void report(boolean stopped) {
        if (stopped) {
            say("stopped", n -> n.put("rounds", done), "stopped after " + done + " round" + (done == 1 ? "" : "s")
                    + " (SIGTERM); nothing half-done is pushed");
        } else {
            say("done", n -> n.put("rounds", done), "done: " + done + " round" + (done == 1 ? "" : "s"));
        }
    }

    private static boolean transientFailure(RemoteException e) {
        return e.mayPassOnRetry();
    }

    /** Rounds on one connection until the wanted rounds are done, SIGTERM, or the connection fails. */
    private void follow(Repository repo, LocalConfig cfg, RemoteClient c, String br) throws InterruptedException {
        while (!stopping.get() && (rounds == 0 || done < rounds)) {
            RemoteBranch rb = c.fetch(repo, br, cfg.haves(), ProgressListener.NONE);
            if (outageSince >= 0) {
                double away = (System.nanoTime() - outageSince) / 1e9;
                outageSince = -1;
                say("back", n -> n.put("seconds_away", away), String.format("coordinator back after %.1f s", away));
            }
            ObjectId head = rb.head();
            cfg.setTracking(remote, br, head);
            Optional<ObjectId> local = Optional.ofNullable(repo.branches().get(br));
            long started = System.nanoTime();
            TrainResult trained = null;
            ObjectId mine;
            if (local.isPresent() && trainedOn(repo, local.get()).filter(head::equals).isPresent()) {
                mine = local.get(); // trained on this version before a restart: push it, or see that it went out
            } else {
                moveTo(repo, br, local, head);
                trained = train(repo, rb, done + 1);
                mine = trained.commit();
            }
            String who = c.whoAmI().name();
            long weight = examples != null ? examples : data.size();
            String msg = "merit daemon: " + data.description() + ", on version " + rb.number();
            ProposalUpload u = CommitProposal.build(repo, cfg, head, mine, br, who, weight, msg, coding);
            Optional<RemoteProposal> sent = repo.getRecord("pushed", mine.name()).isPresent()
                    ? Optional.empty() : alreadySent(c, br, u);
            if (repo.getRecord("pushed", mine.name()).isPresent() || sent.isPresent()) {
                PushCommand.markPushed(repo, mine);
                sent.ifPresent(p -> say("already-pushed", n -> n.put("proposal", p.id()).put("commit", mine.name()),
                        "already pushed " + mine.abbreviate(12) + " as proposal " + p.id() + "; not sending it again"));
                awaitNewVersion(c, br, head);
                continue;
            }
            RemoteClient.PushResult r = c.push(u, ProgressListener.NONE);
            PushCommand.markPushed(repo, mine);
            done++;
            report(repo, rb, mine, trained, u, r.proposal(), (System.nanoTime() - started) / 1e9);
            if (rounds == 0 || done < rounds) {
                awaitNewVersion(c, br, head);
            }
        }
    }

    /** The version a commit of this daemon was trained on, if it is one. */
    private static Optional<ObjectId> trainedOn(Repository repo, ObjectId commit) {
        Commit cm = repo.readCommit(commit);
        String on = cm.provenance().path(PROVENANCE).path("trained_on").asText("");
        if (on.isEmpty() || cm.parents().isEmpty() || !cm.parents().get(0).name().equals(on)) {
            return Optional.empty();
        }
        return Optional.of(cm.parents().get(0));
    }

    /** A proposal of ours on the coordinator with this digest: the push went out before a crash. */
    private static Optional<RemoteProposal> alreadySent(RemoteClient c, String br, ProposalUpload u) {
        String digest = u.spec().digestHex();
        return c.proposals(br, Optional.empty(), 200).stream().filter(p -> p.digest().equalsIgnoreCase(digest)).findFirst();
    }

    /** Moves the branch to the coordinator's version, over commits that went out as proposals only. */
    private void moveTo(Repository repo, String br, Optional<ObjectId> local, ObjectId head) {
        if (local.isPresent() && local.get().equals(head)) {
            return;
        }
        if (local.isPresent() && repo.getRecord("pushed", local.get().name()).isEmpty() && !inHistory(repo, head, local.get())
                && trainedOn(repo, local.get()).isEmpty()) {
            throw new InvalidInputException("branch '" + br + "' has commits that were never pushed to " + remote
                    + "; push them or pull --force before starting the daemon");
        }
        repo.updateBranch(br, local, head, "daemon: pull " + remote + " " + br);
    }

    private static boolean inHistory(Repository repo, ObjectId tip, ObjectId commit) {
        for (Map.Entry<ObjectId, Commit> e : repo.log(tip, 100_000)) {
            if (e.getKey().equals(commit)) {
                return true;
            }
        }
        return false;
    }

    private TrainResult train(Repository repo, RemoteBranch rb, int round) {
        say("training", n -> n.put("round", round).put("version", rb.number()), null);
        ObjectNode prov = JsonNodeFactory.instance.objectNode();
        prov.putObject(PROVENANCE).put("trained_on", rb.head().name()).put("version", rb.number()).put("round", round);
        TrainRound t = training.configure(TrainRound.on(repo)).setData(data).setValues(coding)
                .setSeed(seed + done).setDevice(device).setProvenance(prov)
                .setMessage("daemon round " + round + " on version " + rb.number() + " (" + data.description() + ")")
                .setListener(new TrainListener() {
                    @Override
                    public void step(int step, int steps, double loss, double examplesPerSecond) {
                        if (stopping.get()) {
                            throw new Stopped();
                        }
                    }
                });
        opts.spec().ifPresent(t::setModel);
        return t.call();
    }

    private void report(Repository repo, RemoteBranch rb, ObjectId mine, TrainResult trained, ProposalUpload u,
                        RemoteProposal p, double seconds) {
        double accuracy;
        try (TensorSource s = repo.openVersion(mine)) {
            accuracy = Evaluator.evaluate(s, opts.spec(), validation, device).accuracy();
        }
        double loss = trained != null ? trained.finalLoss()
                : repo.readCommit(mine).provenance().path("training").path("final_loss").asDouble(Double.NaN);
        long parameters = trained != null ? trained.parameters() : 0;
        long bytes = u.payloadBytes();
        say("round", n -> {
            n.put("round", done).put("version", rb.number()).put("base", rb.head().name()).put("commit", mine.name())
                    .put("loss", loss).put("val_accuracy", accuracy).put("bytes_sent", bytes).put("seconds", seconds)
                    .put("proposal", p.id()).put("status", p.status().name().toLowerCase());
            if (parameters > 0) {
                n.put("dense_bytes", 4 * parameters);
            }
            if (!p.reasons().isEmpty()) {
                n.put("reasons", String.join("; ", p.reasons()));
            }
        }, String.format("round %d: version %d, loss %.4f, val accuracy %.2f%%, sent %s%s, %.1f s, proposal %s %s%s", done,
                rb.number(), loss, 100 * accuracy, Format.bytes(bytes),
                parameters > 0 ? String.format(" (dense f32 %s, %.0fx less)", Format.bytes(4 * parameters), 4.0 * parameters / bytes) : "",
                seconds, p.id(), p.status().name().toLowerCase(),
                p.reasons().isEmpty() ? "" : " (" + String.join("; ", p.reasons()) + ")"));
    }

    /** Waits until the coordinator's head of {@code br} is no longer {@code head} (watch stream, polled as a fallback). */
    private void awaitNewVersion(RemoteClient c, String br, ObjectId head) throws InterruptedException {
        say("waiting", n -> n.put("head", head.name()), null);
        CountDownLatch moved = new CountDownLatch(1);
        AtomicReference<MeritException> failed = new AtomicReference<>();
        try (AutoCloseable w = c.watch(br, Duration.ofDays(365), (RemoteVersion v) -> {
            if (!v.commit().equals(head.name())) {
                moved.countDown();
            }
        }, e -> {
            failed.set(e);
            moved.countDown();
        })) {
            long nextPoll = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (!stopping.get()) {
                if (moved.await(200, TimeUnit.MILLISECONDS)) {
                    if (failed.get() instanceof RemoteException e && transientFailure(e)) {
                        throw e;
                    }
                    return;
                }
                if (System.nanoTime() > nextPoll) {
                    // a version made between the fetch and the watch's start is seen here
                    if (c.branch(br).map(RemoteBranch::head).filter(h -> !h.equals(head)).isPresent()) {
                        return;
                    }
                    nextPoll = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                }
            }
        } catch (MeritException | InterruptedException e) {
            throw e;
        } catch (Exception e) {
            throw new MeritException("watch: " + e.getMessage(), e);
        }
        throw new Stopped();
    }

    private void sleepUnlessStopping(long ms) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (!stopping.get() && System.nanoTime() < until) {
            Thread.sleep(Math.min(100, Math.max(1, TimeUnit.NANOSECONDS.toMillis(until - System.nanoTime()))));
        }
    }

    /** One line: JSON with {@code --json}, else {@code text} (events without text are JSON-only). */
    private void say(String event, java.util.function.Consumer<ObjectNode> fields, String text) {
        if (json) {
            ObjectNode n = JSON.createObjectNode();
            n.put("event", event);
            fields.accept(n);
            out().println(n.toString());
        } else if (text != null) {
            out().println(text);
        }
        out().flush();
    }
}
