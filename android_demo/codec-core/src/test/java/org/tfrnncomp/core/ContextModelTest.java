package org.tfrnncomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.Test;

/** The context model against tfrnncomp/entropy/coding/context.py (tools/make_vectors.py). */
public class ContextModelTest {
    @Test
    public void probabilitiesFollowTheDocumentedIntegerFormula() {
        long[][] counts = {{0, 0}, {10, 0}, {0, 10}, {5000, 1}};
        int[] expected = {2048, 3909, 186, 4094};
        for (int i = 0; i < counts.length; i++) {
            assertEquals(expected[i], ContextModel.cdf0FromCounts(counts[i][0], counts[i][1]));
        }
        // huge counts neither overflow nor leave [1, 4095]
        assertEquals(4095, ContextModel.cdf0FromCounts(1L << 40, 0));
        assertEquals(1, ContextModel.cdf0FromCounts(0, 1L << 40));
        assertEquals(2048, ContextModel.cdf0FromCounts(1L << 40, 1L << 40));
        assertEquals(32 * 27, ContextModel.numContexts(32));
    }

    private static byte[] slice(byte[] bits, int t, int per) {
        return Arrays.copyOfRange(bits, t * per, (t + 1) * per);
    }

    @Test
    public void decodesAndReencodesEveryPythonVectorBitExactly() throws Exception {
        List<Vectors.Entry> entries = Vectors.of("context");
        boolean golden = false;
        for (Vectors.Entry e : entries) {
            golden |= e.file.equals("ctx_golden_v1.npz");
            Map<String, Npz.Array> v = Vectors.npz(e.file);
            int[] shape = v.get("bits").shape;
            assertArrayEquals(e.getShape("shape"), shape);
            int t = shape[0], h = shape[1], w = shape[2], d = shape[3];
            int per = h * w * d;
            byte[] bits = v.get("bits").bytes();
            byte[] chunks = v.get("chunks").bytes();
            long[] off = v.get("chunk_offsets").longs();
            List<byte[]> decoded = new ArrayList<>();
            for (int i = 0; i < t; i++) {
                byte[] prev1 = i >= 1 ? decoded.get(i - 1) : null;
                byte[] prev2 = i >= 2 ? decoded.get(i - 2) : null;
                byte[] out = ContextModel.decode(Vectors.slice(chunks, off, i), h, w, d, prev1,
                                                 prev2);
                assertArrayEquals(e.file + " iteration " + i, slice(bits, i, per), out);
                decoded.add(out);
                byte[] again = ContextModel.encode(slice(bits, i, per), h, w, d, prev1, prev2);
                assertArrayEquals(e.file + " bytes of iteration " + i,
                                  Vectors.slice(chunks, off, i), again);
            }
        }
        assertTrue("the golden file tests/golden/context_v1.npz is among the vectors", golden);
    }

    @Test
    public void garbagePayloadsGiveThePythonBitsOrThePythonError() throws Exception {
        for (Vectors.Entry e : Vectors.of("contextbad")) {
            Map<String, Npz.Array> v = Vectors.npz(e.file);
            int[] shape = e.getShape("shape");
            try {
                byte[] out = ContextModel.decode(v.get("payload").bytes(), shape[0], shape[1],
                                                 shape[2], null, null);
                assertEquals(e.file + " decoded, Python failed", "1", e.get("ok"));
                assertArrayEquals(e.file, v.get("bits").bytes(), out);
            } catch (BitstreamException error) {
                assertEquals(e.file + " failed: " + error, "0", e.get("ok"));
                assertEquals(BitstreamException.Kind.MALFORMED, error.kind());
                assertEquals(e.get("message"), error.getMessage());
            }
        }
    }

    private static byte[] structured(Random rng, int h, int w, int d, byte[] previous) {
        byte[] bits = new byte[h * w * d];
        for (int i = 0; i < bits.length; i++) {
            int bias = (i % d) * 3 + 2;
            bits[i] = previous != null && rng.nextInt(10) != 0 ? previous[i]
                      : (byte) (rng.nextInt(100) < bias ? 1 : 0);
        }
        return bits;
    }

    @Test
    public void theModelIsCausalInRasterRowOrder() {
        Random rng = new Random(5);
        int h = 5, w = 4, d = 8;
        byte[] p2 = structured(rng, h, w, d, null);
        byte[] p1 = structured(rng, h, w, d, p2);
        byte[] bits = structured(rng, h, w, d, p1);
        int[] base = ContextModel.indicesFor(bits, h, w, d, p1, p2);
        for (int trial = 0; trial < 30; trial++) {
            int y = rng.nextInt(h), i = (y * w + rng.nextInt(w)) * d + rng.nextInt(d);
            byte[] changed = bits.clone();
            changed[i] ^= 1;
            int[] idx = ContextModel.indicesFor(changed, h, w, d, p1, p2);
            int rowEnd = (y + 1) * w * d;
            assertArrayEquals(Arrays.copyOf(base, rowEnd), Arrays.copyOf(idx, rowEnd));
        }
    }

    @Test
    public void codedSizeIsCloseToTheModelsCrossEntropyAndBelowRaw() throws Exception {
        Random rng = new Random(9);
        int h = 24, w = 32, d = 32;
        byte[] prev2 = null, prev1 = null;
        long coded = 0;
        for (int t = 0; t < 4; t++) {
            byte[] bits = structured(rng, h, w, d, prev1);
            byte[] data = ContextModel.encode(bits, h, w, d, prev1, prev2);
            double ideal = ContextModel.codeLength(bits, h, w, d, prev1, prev2);
            assertTrue(ideal + " vs " + data.length * 8,
                       ideal - 32 <= data.length * 8 && data.length * 8 <= ideal * 1.005 + 32);
            assertArrayEquals(bits, ContextModel.decode(data, h, w, d, prev1, prev2));
            coded += data.length * 8L;
            prev2 = prev1;
            prev1 = bits;
        }
        assertTrue(coded < 0.85 * 4 * h * w * d);
    }

    @Test
    public void badInputsAreRejected() throws Exception {
        try {
            ContextModel.encode(new byte[] {0, 2}, 1, 1, 2, null, null);
            fail("accepted a 2");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("0/1"));
        }
        try {
            ContextModel.decode(new byte[0], 1, 1, 2, new byte[3], null);
            fail("accepted a previous iteration of the wrong size");
        } catch (IllegalArgumentException expected) {
            // ok
        }
        try {
            ContextModel.decode(new byte[0], 1, 1, 2, new byte[] {-1, 1}, null);
            fail("accepted +-1 codes as bits");
        } catch (IllegalArgumentException expected) {
            // ok
        }
    }
}
