package org.tfrnncomp.core;

import java.util.ArrayList;
import java.util.List;

/**
 * An {@link IterationDriver} without a model: it records the calls and keeps a
 * running "reconstruction" (the per-position sum of the codes, a stand-in for
 * the decoder's image), so tests can check the host loop.
 */
final class FakeIterationDriver implements IterationDriver {
    Header header;
    final List<Integer> steps = new ArrayList<>();
    final List<Codes> seen = new ArrayList<>();
    int[] sum;
    int ended = -1;
    int failAt = -1;

    @Override
    public void begin(Header h) {
        if (header != null) {
            throw new IllegalStateException("begin called twice");
        }
        header = h;
        sum = new int[(int) h.codeCount()];
    }

    @Override
    public void step(int iteration, Codes codes) throws Exception {
        if (header == null) {
            throw new IllegalStateException("step before begin");
        }
        if (iteration != steps.size()) {
            throw new IllegalStateException("iteration " + iteration + " out of order");
        }
        if (iteration == failAt) {
            throw new Exception("model failed at " + iteration);
        }
        if (codes.rows() != header.codeRows() || codes.cols() != header.codeCols()
                || codes.depth() != header.codeDepth()) {
            throw new IllegalStateException("codes of the wrong shape " + codes);
        }
        byte[] v = codes.values();
        for (int i = 0; i < v.length; i++) {
            sum[i] += v[i];
        }
        steps.add(iteration);
        seen.add(codes);
    }

    @Override
    public void end(int iterationsRun) {
        ended = iterationsRun;
    }
}
