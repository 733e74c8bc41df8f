package dev.merit.cli;

import dev.merit.store.ProgressListener;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** Shows a {@link ProgressListener}'s work as a terminal progress bar in MiB. */
final class ConsoleProgress implements ProgressListener {

    private ProgressBar bar;

    @Override
    public synchronized void start(String task, long totalBytes) {
        done();
        bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(totalBytes)
                .setUnit(" MiB", 1 << 20).showSpeed().setStyle(ProgressBarStyle.ASCII)
                .continuousUpdate().build();
    }

    @Override
    public void advance(long bytes) {
        ProgressBar b = bar;
        if (b != null) {
            b.stepBy(bytes);
        }
    }

    /** The same bar fed by the merge engine, which reports totals per phase ("scan", "merge"). */
    dev.merit.merge.ProgressListener forMerges() {
        String[] phase = {null};
        return p -> {
            synchronized (this) {
                if (!p.phase().equals(phase[0])) {
                    phase[0] = p.phase();
                    start(p.phase(), p.bytesTotal());
                }
                if (bar != null) {
                    bar.stepTo(p.bytesDone());
                }
            }
        };
    }

    @Override
    public synchronized void done() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
