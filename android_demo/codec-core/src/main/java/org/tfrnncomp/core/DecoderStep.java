package org.tfrnncomp.core;

/**
 * One call of the exported {@code decoder_step} model ({@code tfrnncomp.runtime.steps}):
 *
 * <pre>
 * decoder_step(bits [1,h,w,D], reconstruction [1,H,W,3], gain [1,H,W,1], decoder_state_i...)
 *     -&gt; {reconstruction, gain, decoder_state_i...}
 * </pre>
 *
 * All tensors are float32, NHWC, batch 1, passed flat, with their shapes
 * ({@code imageShape = [1, H, W, 3]}, H = h * block; the gain is {@code [1, H, W, 1]}).
 * The implementation writes the outputs into the {@code out*} arrays (never the inputs).
 * On Android it wraps a TensorFlow Lite signature runner; in tests, a fake.
 */
public interface DecoderStep {
    void run(float[] bits, int[] bitsShape, float[] reconstruction, float[] gain,
             int[] imageShape, float[][] states, int[][] stateShapes, float[] outReconstruction,
             float[] outGain, float[][] outStates) throws Exception;
}
