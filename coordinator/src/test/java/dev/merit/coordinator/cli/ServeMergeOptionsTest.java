package dev.merit.coordinator.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.merit.coordinator.policy.MergePolicy;
import dev.merit.coordinator.policy.PolicyConfig;
import dev.merit.error.InvalidInputException;
import dev.merit.merge.MergeParameters;
import dev.merit.merge.Strategy;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code merit serve}'s merge options become the policy's merge parameters, and bad ones are named. */
class ServeMergeOptionsTest {

    private static ServeCommand parse(String... args) {
        CommandLine cl = new CommandLine(new CoordinatorMain.Root(Path.of(".")));
        CommandLine.ParseResult r = cl.parseArgs(args);
        return (ServeCommand) r.subcommand().commandSpec().userObject();
    }

    @Test
    void serverLearningRateAndMergeParametersReachThePolicy() {
        PolicyConfig pc = parse("serve", "--policy", "batch", "--strategy", "fisher", "--server-lr", "2.5",
                "--merge-param", "average_over=touched", "--merge-param", "fisher_floor=0.001", "--server-momentum", "0.9").policyConfig();
        assertEquals(MergePolicy.BATCH, pc.policy());
        assertEquals(Strategy.FISHER, pc.strategy());
        assertEquals(2.5, pc.parameters().stepSize());
        assertEquals(MergeParameters.Over.TOUCHED, pc.parameters().averageOver());
        assertEquals(0.001, pc.parameters().fisherFloor());
        assertEquals(0.9, pc.serverMomentum());
    }

    @Test
    void defaultsLeaveTheHeadMovingByTheMergedChange() {
        PolicyConfig pc = parse("serve").policyConfig();
        assertEquals(1.0, pc.parameters().stepSize());
        assertEquals(MergeParameters.defaults(), pc.parameters());
        assertEquals(0.0, pc.serverMomentum());
    }

    @Test
    void unknownOrBadMergeParametersAreNamedAndStepSizeGoesThroughServerLr() {
        InvalidInputException unknown = assertThrows(InvalidInputException.class,
                () -> parse("serve", "--merge-param", "momentum=0.9").policyConfig());
        assertTrue(unknown.getMessage().contains("momentum"), unknown.getMessage());
        InvalidInputException bad = assertThrows(InvalidInputException.class,
                () -> parse("serve", "--merge-param", "average_over=some").policyConfig());
        assertTrue(bad.getMessage().contains("average_over"), bad.getMessage());
        InvalidInputException step = assertThrows(InvalidInputException.class,
                () -> parse("serve", "--merge-param", "step_size=2").policyConfig());
        assertTrue(step.getMessage().contains("--server-lr"), step.getMessage());
        InvalidInputException beta = assertThrows(InvalidInputException.class,
                () -> parse("serve", "--server-momentum", "1").policyConfig());
        assertTrue(beta.getMessage().contains("momentum"), beta.getMessage());
        StringWriter err = new StringWriter();
        int rc = CoordinatorMain.run(Path.of("."), new PrintWriter(new StringWriter()), new PrintWriter(err), "serve", "--server-lr", "NaN-ish");
        assertEquals(2, rc, err.toString());
    }
}
