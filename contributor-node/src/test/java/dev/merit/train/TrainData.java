package dev.merit.train;

import dev.merit.train.data.DataDir;
import dev.merit.train.data.ImageSet;

/** The bundled Fashion-MNIST subset, loaded once per test JVM. */
final class TrainData {

    private static ImageSet train;
    private static ImageSet test;

    private TrainData() {}

    static synchronized ImageSet train() {
        if (train == null) {
            train = DataDir.bundled().train();
        }
        return train;
    }

    static synchronized ImageSet test() {
        if (test == null) {
            test = DataDir.bundled().test();
        }
        return test;
    }
}
