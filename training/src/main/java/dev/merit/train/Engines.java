package dev.merit.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import dev.merit.error.InvalidInputException;
import java.util.Locale;

/**
 * The DJL PyTorch engine, configured to run offline: natives come from the
 * {@code pytorch-native-cpu} jar on the class path, and start-up telemetry is off. A user who set
 * {@code DJL_OFFLINE} / {@code ai.djl.offline} themselves (a GPU box fetching a CUDA build) keeps
 * their choice.
 */
public final class Engines {

    static final String THREADS = "ai.djl.pytorch.num_threads";
    static final String INTEROP_THREADS = "ai.djl.pytorch.num_interop_threads";

    private Engines() {}

    /** The PyTorch engine, loaded once per process. */
    public static synchronized Engine pytorch() {
        if (System.getProperty("ai.djl.offline") == null && System.getenv("DJL_OFFLINE") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        // "Failed to detect GPU count" and engine banners are noise on a CPU box; errors still show.
        if (System.getProperty("org.slf4j.simpleLogger.log.ai.djl") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.ai.djl", "error");
        }
        // One intra-op thread unless told otherwise: the models trained here are small, and OpenMP
        // workers waiting for a busy core made steps 10x slower on a shared 2-core box.
        if (System.getProperty(THREADS) == null) {
            System.setProperty(THREADS, System.getenv().getOrDefault("MERIT_TORCH_THREADS", "1"));
        }
        if (System.getProperty(INTEROP_THREADS) == null) {
            System.setProperty(INTEROP_THREADS, "1");
        }
        if (System.getProperty("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
        try {
            return Engine.getEngine("PyTorch");
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot load DJL's PyTorch engine: " + e.getMessage(), e);
        }
    }

    /**
     * The device for {@code cpu}, {@code gpu} or {@code auto} (the GPU when the engine finds
     * one, else the CPU).
     */
    public static Device device(String choice) {
        int gpus = pytorch().getGpuCount();
        return switch (choice.toLowerCase(Locale.ROOT)) {
            case "cpu" -> Device.cpu();
            case "auto" -> gpus > 0 ? Device.gpu() : Device.cpu();
            case "gpu" -> {
                if (gpus == 0) {
                    throw new InvalidInputException("--device gpu: the PyTorch engine found no CUDA GPU "
                            + "(this build bundles CPU natives; see docs/training.md for a GPU box)");
                }
                yield Device.gpu();
            }
            default -> throw new InvalidInputException("--device must be cpu, gpu or auto, got '" + choice + "'");
        };
    }
}
