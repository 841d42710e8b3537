package org.tfrnncomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/** Pixels and the decoder-step host loop against tfrnncomp.runtime.steps / tfrnncomp.codec.image_io. */
public class HostLoopTest {
    private static int[] rgbToArgb(byte[] rgb, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = 0xFF000000 | (rgb[3 * i] & 0xFF) << 16 | (rgb[3 * i + 1] & 0xFF) << 8
                     | (rgb[3 * i + 2] & 0xFF);
        }
        return out;
    }

    private static int[] greyToArgb(byte[] grey) {
        int[] out = new int[grey.length];
        for (int i = 0; i < grey.length; i++) {
            int g = grey[i] & 0xFF;
            out[i] = 0xFF000000 | g << 16 | g << 8 | g;
        }
        return out;
    }

    @Test
    public void pixelConversionsMatchPython() throws Exception {
        Map<String, Npz.Array> v = Vectors.npz("pixels.npz");
        assertTrue(Vectors.find("pixels.npz").getInt("ties") > 50);
        float[] recon = v.get("reconstruction").floats();
        int padWidth = v.get("reconstruction").shape[1];
        int[] rgbShape = v.get("rgb").shape;
        int h = rgbShape[0], w = rgbShape[1];
        assertArrayEquals(rgbToArgb(v.get("rgb").bytes(), h * w),
                          Pixels.toArgb(recon, padWidth, h, w, 3));
        assertArrayEquals(greyToArgb(v.get("grey").bytes()),
                          Pixels.toArgb(recon, padWidth, h, w, 1));

        Npz.Array image = v.get("image");
        int ih = image.shape[0], iw = image.shape[1];
        float[] input = Pixels.toModelInput(rgbToArgb(image.bytes(), ih * iw), ih, iw,
                                            Pixels.padded(ih), Pixels.padded(iw));
        Npz.Array expected = v.get("model_input");
        assertEquals(Pixels.padded(ih), expected.shape[0]);
        assertEquals(Pixels.padded(iw), expected.shape[1]);
        assertArrayEquals(expected.floats(), input, 0f);
    }

    @Test
    public void theStepLoopReproducesRunDecoderSteps() throws Exception {
        for (Vectors.Entry e : Vectors.of("steploop")) {
            assertEquals("16,4;8,3", e.get("layout"));
            Npz.Array frames = Vectors.npz(e.file).get("frames");
            byte[] all = frames.bytes();
            int t = frames.shape[0], h = frames.shape[1], w = frames.shape[2];
            boolean grey = frames.shape.length == 3;
            int per = grey ? h * w : 3 * h * w;
            final List<int[]> seen = new ArrayList<>();
            FakeDecoderStep fake = new FakeDecoderStep();
            StepLoopDriver driver = new StepLoopDriver(
                fake, new StateLayout(FakeDecoderStep.LAYOUT),
                (iteration, argb, width, height) -> {
                    assertEquals(seen.size(), iteration);
                    assertEquals(w, width);
                    assertEquals(h, height);
                    seen.add(argb);
                });
            int run = Decoder.open(Vectors.bytes(e.get("trc"))).run(driver, 64);
            assertEquals(t, run);
            assertEquals(t, fake.calls);
            for (int i = 0; i < t; i++) {
                byte[] frame = java.util.Arrays.copyOfRange(all, i * per, (i + 1) * per);
                int[] expected = grey ? greyToArgb(frame) : rgbToArgb(frame, h * w);
                assertArrayEquals(e.file + " frame " + i, expected, seen.get(i));
            }
        }
    }

    @Test
    public void thePostFilterSeesEachIterationCountAndItsOutputIsShown() throws Exception {
        Vectors.Entry e = Vectors.of("steploop").get(0);
        final List<Float> counts = new ArrayList<>();
        PostFilterStep shift = (reconstruction, imageShape, iterations, outImage) -> {
            assertEquals(imageShape[1] * imageShape[2], iterations.length);
            counts.add(iterations[iterations.length - 1]);
            for (int i = 0; i < reconstruction.length; i++) {
                outImage[i] = reconstruction[i] + 0.05f * iterations[i / 3];
            }
        };
        final StepLoopDriver[] driver = new StepLoopDriver[1];
        final List<int[]> seen = new ArrayList<>();
        final List<int[]> expected = new ArrayList<>();
        driver[0] = new StepLoopDriver(
            new FakeDecoderStep(), shift, new StateLayout(FakeDecoderStep.LAYOUT),
            (iteration, argb, width, height) -> {
                float[] r = driver[0].reconstruction().clone();
                for (int i = 0; i < r.length; i++) {
                    r[i] += 0.05f * (iteration + 1);
                }
                int padWidth = Pixels.padded(width);
                expected.add(Pixels.toArgb(r, padWidth, height, width, 3));
                seen.add(argb);
            });
        int run = Decoder.open(Vectors.bytes(e.get("trc"))).run(driver[0], 64);
        assertTrue(run >= 2);
        for (int i = 0; i < run; i++) {
            assertEquals(i + 1, counts.get(i), 0f);
            assertArrayEquals(expected.get(i), seen.get(i));
        }
    }

    @Test
    public void stateShapesFollowTheLayout() {
        StateLayout layout = new StateLayout(new int[][] {{16, 64}, {8, 128}, {4, 32}});
        assertEquals(3, layout.size());
        assertArrayEquals(new int[] {1, 4, 6, 64}, layout.shape(0, 64, 96));
        assertArrayEquals(new int[] {1, 16, 24, 32}, layout.shape(2, 64, 96));
        assertEquals(8 * 12 * 128, layout.count(1, 64, 96));
        assertEquals(32, Pixels.padded(1));
        assertEquals(64, Pixels.padded(33));
        assertEquals(64, Pixels.padded(64));
    }
}
