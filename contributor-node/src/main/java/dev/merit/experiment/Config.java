package dev.merit.experiment;

/**
 * Sizes of a run. {@link #standard()} is what the documented results use; {@link #quick()} is a
 * seconds-long run of the same code for tests.
 */
record Config(String model, String baseShard, int baseSteps, int steps, int batch, double lr, int contributors,
              int fisherSamples, int gramSamples, int testExamples, String cnn) {

    static Config standard() {
        return new Config("mlp:784-256-128-10", "iid:20:0", 300, 200, 64, 0.05, 5, 512, 2048, 0, "cnn:16");
    }

    static Config quick() {
        return new Config("mlp:784-32-10", "iid:50:0", 30, 20, 32, 0.05, 3, 64, 256, 500, "cnn:2");
    }
}
