package org.tfrnncomp.core;

/**
 * One call of the exported {@code post_filter_step} model ({@code tfrnncomp.runtime.steps},
 * present when the model has a post-filter, {@code tfrnncomp.model.postfilter}):
 *
 * <pre>
 * post_filter_step(reconstruction [1,H,W,3], iterations [1,H,W,1]) -&gt; {image [1,H,W,3]}
 * </pre>
 *
 * {@code iterations} holds the number of iterations decoded so far at every pixel; {@code image}
 * is the filtered reconstruction (model range, rounded by {@link Pixels#toArgb}).  Float32,
 * NHWC, batch 1, flat.  The implementation writes {@code outImage} (never the inputs).
 */
public interface PostFilterStep {
    void run(float[] reconstruction, int[] imageShape, float[] iterations, float[] outImage)
        throws Exception;
}
