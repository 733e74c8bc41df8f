package dev.merit.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.merit.error.MeritException;
import dev.merit.error.NotFoundException;
import dev.merit.remote.LocalConfig;
import dev.merit.remote.RemoteClient;
import dev.merit.remote.RemoteVersion;
import dev.merit.store.Repository;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "watch", header = "Print new versions of a shared model as the coordinator makes them.")
final class WatchCommand extends BaseCommand {

    @Parameters(index = "0", arity = "0..1", defaultValue = "origin", paramLabel = "REMOTE", description = "A remote name or a merit:// URL.")
    String remote;

    @Parameters(index = "1", arity = "0..1", paramLabel = "BRANCH", description = "Default: every branch.")
    String branch;

    @Option(names = {"-n", "--count"}, description = "Stop after N versions.")
    int count = Integer.MAX_VALUE;

    @Option(names = "--timeout", paramLabel = "SECONDS", description = "Stop after this many seconds (default: never).")
    long timeoutSeconds;

    @Mixin
    TokenOption auth;

    @Option(names = "--json", description = "One JSON document per line for each version.")
    boolean json;

    @Override
    int run() throws Exception {
        Optional<LocalConfig> cfg = Optional.empty();
        Repository repo = null;
        try {
            try {
                repo = openRepository();
                cfg = Optional.of(new LocalConfig(repo));
            } catch (NotFoundException notInARepository) {
                // a URL works from anywhere
            }
            CountDownLatch seen = new CountDownLatch(count == Integer.MAX_VALUE ? 1 : count);
            AtomicReference<MeritException> failure = new AtomicReference<>();
            CountDownLatch failed = new CountDownLatch(1);
            Duration deadline = timeoutSeconds > 0 ? Duration.ofSeconds(timeoutSeconds + 5) : Duration.ofDays(365);
            try (RemoteClient c = auth.connect(cfg, remote);
                 AutoCloseable w = c.watch(branch == null ? "" : branch, deadline, v -> {
                     print(v);
                     seen.countDown();
                 }, t -> {
                     failure.set(t);
                     failed.countDown();
                 })) {
                if (!json) {
                    out().println("watching " + remote + (branch == null ? "" : " " + branch) + " for new versions...");
                    out().flush();
                }
                long until = timeoutSeconds > 0 ? System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds) : Long.MAX_VALUE;
                while (seen.getCount() > 0 && failed.getCount() > 0 && System.nanoTime() < until) {
                    seen.await(200, TimeUnit.MILLISECONDS);
                }
            }
            MeritException t = failure.get();
            if (t != null && seen.getCount() > 0) {
                throw t;
            }
        } finally {
            if (repo != null) {
                repo.close();
            }
        }
        return ExitCode.OK;
    }

    private synchronized void print(RemoteVersion v) {
        if (json) {
            ObjectNode n = JSON.createObjectNode();
            n.put("branch", v.branch());
            n.put("commit", v.commit());
            n.put("number", v.number());
            n.put("strategy", v.strategy());
            n.put("time", v.time().toString());
            var ps = n.putArray("proposals");
            v.proposals().forEach(ps::add);
            out().println(n.toString());
        } else {
            out().printf("%s version %d: %s (%s%s)%n", v.branch(), v.number(), v.commit().substring(0, 12),
                    v.strategy(), v.proposals().isEmpty() ? "" : ", proposals " + String.join(", ", v.proposals()));
        }
        out().flush();
    }
}
