package dev.merit.store;

/** Receives progress of long operations (commit, checkout) so front ends can show it. Thread-safe. */
public interface ProgressListener {

    ProgressListener NONE = new ProgressListener() {
        @Override
        public void start(String task, long totalBytes) {}

        @Override
        public void advance(long bytes) {}

        @Override
        public void done() {}
    };

    void start(String task, long totalBytes);

    void advance(long bytes);

    void done();
}
