package dev.merit.train;

/** Hears how a training round goes, for progress output. */
public interface TrainListener {

    TrainListener NONE = new TrainListener() {};

    /** A phase begins: "fisher", "mask", "train", "statistics", "commit". */
    default void phase(String name) {}

    /** After a training step: 1-based step, the steps planned, the step's loss, examples/s so far. */
    default void step(int step, int steps, double loss, double examplesPerSecond) {}
}
