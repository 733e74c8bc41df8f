package dev.merit.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.merit.coordinator.Coordinator;
import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.remote.Models;
import dev.merit.tensor.DType;
import dev.merit.testing.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code merit token} and {@code merit key} against a real coordinator on loopback: tokens with
 * an expiry, listed without secrets and revoked; a key rotated and revoked, with a proposal signed
 * before the rotation still verifying with the key that signed it.
 */
class TokenKeyCliTest {

    @TempDir
    Path dir;

    private static CliRunner.Result ok(CliRunner m, String... args) {
        CliRunner.Result r = m.run(args);
        assertEquals(0, r.exitCode(), () -> "merit " + String.join(" ", args) + "\n" + r);
        return r;
    }

    private static CliRunner.Result fails(int code, String part, CliRunner m, String... args) {
        CliRunner.Result r = m.run(args);
        assertEquals(code, r.exitCode(), () -> "merit " + String.join(" ", args) + "\n" + r);
        assertTrue(r.err().contains(part), () -> "stderr should mention '" + part + "': " + r);
        return r;
    }

    private static String proposalId(CliRunner.Result push) {
        Matcher m = Pattern.compile("Proposal (\\S+) to main by alice: accepted").matcher(push.out());
        assertTrue(m.find(), push.out());
        return m.group(1);
    }

    @Test
    void tokensExpireListAndRevokeAndKeysRotateWithOldProposalsVerifiable() throws Exception {
        Path base = TestModels.builder().seed(4).tensor("a", DType.F32, 60, 40).write(dir.resolve("base.safetensors"));
        PolicyConfig manual = PolicyConfig.defaults().withPolicy(MergePolicy.MANUAL);
        try (Coordinator coord = Coordinator.builder(dir.resolve("server")).listen("127.0.0.1", 0).policy(manual).start()) {
            String url = "merit://127.0.0.1:" + coord.port();
            CliRunner maint = new CliRunner(Files.createDirectories(dir.resolve("maint")));
            ok(maint, "init", "--from", base.toString(), "-m", "base");
            ok(maint, "remote", "add", "origin", url, "--token", coord.initialAdminToken().orElseThrow());
            ok(maint, "push", "origin", "main");

            fails(ExitCode.INVALID_INPUT, "--expires: '3x' is not a duration (use 30d, 12h or an ISO instant", maint,
                    "token", "create", "--name", "x", "--role", "reader", "--expires", "3x");
            fails(ExitCode.INVALID_INPUT, "is in the past", maint, "token", "create", "--name", "x", "--role", "reader",
                    "--expires", "2020-01-01T00:00Z");
            JsonNode created = BaseCommand.JSON.readTree(ok(maint, "token", "create", "--name", "alice", "--role", "contributor",
                    "--json").out());
            String token = created.get("token").asText();
            Instant expires = Instant.parse(created.get("expires").asText());
            assertTrue(Math.abs(Duration.between(Instant.now().plus(Duration.ofDays(90)), expires).toMinutes()) < 5,
                    "the default lifetime is 90 days: " + created);
            JsonNode forever = BaseCommand.JSON.readTree(ok(maint, "token", "create", "--name", "bot", "--role", "reader",
                    "--expires", "never", "--json").out());
            assertTrue(forever.get("expires").isNull(), forever.toString());
            String listed = ok(maint, "token", "list").out();
            assertTrue(listed.contains(created.get("id").asText()) && listed.contains("alice") && listed.contains("never"), listed);
            assertFalse(listed.contains(token) || ok(maint, "token", "list", "--json").out().contains(token), "a listing never shows a token");
            fails(ExitCode.NOT_FOUND, "no token with id or name 'nobody'", maint, "token", "revoke", "nobody");

            // alice pushes, rotates her key, and her first proposal still verifies with the key that signed it.
            ok(new CliRunner(dir), "clone", url, "alice", "--token", token);
            CliRunner alice = new CliRunner(dir.resolve("alice"));
            ok(alice, "key", "register");
            String before = ok(alice, "key", "show").out().trim().replace("Ed25519 key ", "");
            ok(alice, "commit", Models.sparseTune(base, dir.resolve("t1.safetensors"), 0.02, 1).toString(), "-m", "one");
            String p1 = proposalId(ok(alice, "push"));
            String rotated = ok(alice, "key", "rotate").out();
            assertTrue(rotated.contains("from " + before + " to "), rotated);
            String after = ok(alice, "key", "show").out().lines().findFirst().orElseThrow().replace("Ed25519 key ", "");
            assertFalse(after.equals(before));
            JsonNode keys = BaseCommand.JSON.readTree(ok(alice, "key", "show", "origin", "--json").out());
            assertEquals("superseded", keys.get(0).get("status").asText(), keys.toString());
            assertEquals(before, keys.get(0).get("fingerprint").asText());
            assertEquals("current", keys.get(1).get("status").asText());
            String verified = ok(alice, "key", "verify", p1).out();
            assertTrue(verified.contains("signature verifies with key " + before + " (superseded at"), verified);
            ok(alice, "commit", Models.sparseTune(base, dir.resolve("t2.safetensors"), 0.02, 2).toString(), "-m", "two");
            String p2 = proposalId(ok(alice, "push"));
            assertTrue(ok(alice, "key", "verify", p2, "--json").out().contains("\"signing_key\" : \"" + after + "\""));

            // Revoking her current key: this repository moves to a fresh key, which she registers.
            String revoked = ok(alice, "key", "revoke", after).out();
            assertTrue(revoked.contains("Revoked key " + after + " of alice"), revoked);
            ok(alice, "key", "register");
            assertTrue(ok(alice, "key", "verify", p2).out().contains("(revoked at"), "p2 stays verifiable");

            // A revoked token is refused from the next call on.
            ok(maint, "token", "revoke", "alice");
            fails(ExitCode.FAILURE, "revoked at", alice, "key", "show", "origin");
        }
    }
}
