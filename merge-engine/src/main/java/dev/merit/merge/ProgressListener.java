package dev.merit.merge;

/** Receives progress of a merge, e.g. to draw a progress bar. Called from worker threads, so keep it quick and thread-safe. */
@FunctionalInterface
public interface ProgressListener {

    ProgressListener NONE = p -> {};

    void progress(Progress p);

    /**
     * @param phase        {@code "scan"} (statistics, clipping norms, Krum distances) or {@code "merge"}
     * @param tensorsDone  tensors finished in this phase
     * @param tensorsTotal tensors in the merge
     * @param bytesDone    output bytes finished in this phase
     * @param bytesTotal   output bytes of the merge
     */
    record Progress(String phase, int tensorsDone, int tensorsTotal, long bytesDone, long bytesTotal) {}
}
