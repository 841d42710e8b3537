package org.tfrnncomp.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.Test;

/** The .trc container against files written by tfrnncomp/format/container.py and tfrnncomp.Codec. */
public class BitstreamTest {
    static List<Codes> codesOf(Npz.Array array) {
        int[] s = array.shape;
        byte[] all = array.bytes();
        int per = s[1] * s[2] * s[3];
        List<Codes> out = new ArrayList<>();
        for (int t = 0; t < s[0]; t++) {
            out.add(new Codes(s[1], s[2], s[3], Arrays.copyOfRange(all, t * per, (t + 1) * per)));
        }
        return out;
    }

    @Test
    public void wholeFilesFromTheCodecDecodeToTheirCodesAndReencodeIdentically()
            throws Exception {
        int context = 0;
        for (Vectors.Entry e : Vectors.of("trc")) {
            byte[] data = Vectors.bytes(e.file);
            assertEquals(e.getInt("bytes"), data.length);
            Bitstream.Container c = Bitstream.read(data);
            Header h = c.header();
            assertTrue(c.complete());
            assertEquals(e.get("model_id"), h.modelId());
            assertEquals(e.getLong("height"), h.height());
            assertEquals(e.getLong("width"), h.width());
            assertEquals(e.getInt("channels"), h.channels());
            assertEquals(e.getLong("pad_height"), h.padHeight());
            assertEquals(e.getLong("pad_width"), h.padWidth());
            assertEquals(e.getInt("iterations"), h.iterations());
            assertEquals(e.getInt("block_size"), h.blockSize());
            assertEquals(e.getInt("code_depth"), h.codeDepth());
            assertEquals(e.get("entropy"), h.entropyMode().pythonName());
            context += h.entropyMode() == EntropyMode.CONTEXT ? 1 : 0;

            List<Codes> expected = codesOf(Vectors.npz(e.get("codes")).get("codes"));
            Decoder decoder = Decoder.open(data);
            assertEquals(expected, decoder.decode(h.iterations()));
            assertArrayEquals(e.file, data, Encoder.encodeFile(h, expected));
            assertArrayEquals(e.file, data, Bitstream.write(h, c.chunks()));
        }
        assertTrue(context >= 3);
    }

    @Test
    public void truncatedAndLimitedFilesReadAsPython() throws Exception {
        for (Vectors.Entry e : Vectors.of("trcread")) {
            byte[] data = Vectors.bytes(e.file);
            Bitstream.Container c = Bitstream.read(data, e.getLong("max_pixels"),
                                                   e.getInt("strict") == 1);
            assertEquals(e.file, e.getInt("chunks"), c.chunks().size());
            assertEquals(e.file, e.getInt("complete") == 1, c.complete());
            Header h = c.header();
            assertEquals(e.get("model_id"), h.modelId());
            assertEquals(e.get("entropy"), h.entropyMode().pythonName());
            StringBuilder sizes = new StringBuilder();
            for (byte[] chunk : c.chunks()) {
                sizes.append(sizes.length() > 0 ? "," : "").append(chunk.length);
            }
            assertEquals(e.file, e.get("chunk_bytes"), sizes.toString());
            StringBuilder ext = new StringBuilder();
            for (Map.Entry<Integer, byte[]> x : h.extensions().entrySet()) {
                ext.append(ext.length() > 0 ? "," : "").append(x.getKey()).append(':');
                for (byte b : x.getValue()) {
                    ext.append(String.format("%02x", b & 0xFF));
                }
            }
            assertEquals(e.file, e.get("extensions"), ext.toString());

            // the codes: a prefix of the source file's, or what Python decoded
            Decoder decoder;
            try {
                decoder = Decoder.open(data, e.getLong("max_pixels"), e.getInt("strict") == 1,
                                       null);
                List<Codes> codes = decoder.decode(c.chunks().size());
                assertEquals(e.file + " decodes in Java, not in Python", "ok", e.get("decode"));
                List<Codes> expected;
                if (e.get("source").isEmpty()) {
                    expected = codesOf(Vectors.npz(e.get("codes")).get("codes"));
                } else {
                    Vectors.Entry source = Vectors.find(e.get("source"));
                    expected = codesOf(Vectors.npz(source.get("codes")).get("codes"))
                                   .subList(0, c.chunks().size());
                }
                assertEquals(e.file, expected, codes);
            } catch (BitstreamException error) {
                assertEquals(e.file, e.get("decode"), error.getMessage());
            }
            if (c.complete() && e.get("canonical").equals("1")) {
                // same bytes as Python's bitstream.write (not for hand-made files whose
                // extensions are out of order)
                assertArrayEquals(e.file, data, Bitstream.write(h, c.chunks()));
            }
        }
    }

    @Test
    public void corruptedFilesFailWithThePythonErrorAndMessage() throws Exception {
        int count = 0;
        for (Vectors.Entry e : Vectors.of("trcerror")) {
            byte[] data = Vectors.bytes(e.file);
            try {
                Bitstream.read(data, e.getLong("max_pixels"), e.getInt("strict") == 1);
                fail(e.file + " was accepted; Python: " + e.get("message"));
            } catch (BitstreamException error) {
                assertEquals(e.file + ": " + error, e.get("error"), error.kind().pythonName());
                String expected = e.get("message");
                String actual = error.getMessage();
                if (error.kind() == BitstreamException.Kind.LIMIT) {
                    // the hint after ';' names the Java parameter instead of the Python one
                    expected = expected.substring(0, expected.indexOf(';'));
                    actual = actual.substring(0, actual.indexOf(';'));
                }
                assertEquals(e.file, expected, actual);
                count++;
            }
        }
        assertTrue(count > 50);
    }

    @Test
    public void everyPrefixOfAFileReadsAsPythonSaysACutFileDoes() throws Exception {
        // independent of the vectors' cut points: every length of one context file
        byte[] data = Vectors.bytes("tiny_context_40x50.trc");
        Bitstream.HeaderAndOffset ho = Bitstream.decodeHeader(data);
        int[] ends = new int[ho.header.iterations() + 1];
        ends[0] = ho.offset;
        for (int i = 0; i < ho.header.iterations(); i++) {
            int p = ends[i];
            int size = ((data[p] & 0xFF) << 24) | ((data[p + 1] & 0xFF) << 16)
                       | ((data[p + 2] & 0xFF) << 8) | (data[p + 3] & 0xFF);
            ends[i + 1] = p + 8 + size;
        }
        assertEquals(data.length, ends[ends.length - 1]);
        for (int n = 0; n <= data.length; n++) {
            byte[] cut = Arrays.copyOf(data, n);
            int whole = 0;
            while (whole < ho.header.iterations() && ends[whole + 1] <= n) {
                whole++;
            }
            try {
                Bitstream.Container c = Bitstream.read(cut);
                assertEquals("length " + n, whole, c.chunks().size());
                assertEquals(n == data.length, c.complete());
            } catch (BitstreamException error) {
                assertEquals("length " + n + ": " + error, BitstreamException.Kind.TRUNCATED,
                             error.kind());
                assertEquals(0, whole);
            }
        }
    }

    @Test
    public void headersRoundTripWithExtensions() throws Exception {
        SortedMap<Integer, byte[]> ext = new TreeMap<>();
        ext.put(7, "hello".getBytes("US-ASCII"));
        ext.put(1, new byte[0]);
        ext.put(200, new byte[40]);
        Header h = new Header("gru-w25@1a2b3c4d", 30, 40, 3, 32, 64, 3, EntropyMode.RAW, 16, 32,
                              ext);
        byte[] data = Bitstream.encodeHeader(h);
        Bitstream.HeaderAndOffset back = Bitstream.decodeHeader(data);
        assertEquals(h, back.header);
        assertEquals(data.length, back.offset);
        assertEquals(Arrays.asList(1, 7, 200), new ArrayList<>(back.header.extensions().keySet()));
        assertEquals(2 * 4 * 32 / 8, h.rawChunkBytes());
        assertEquals(h.rawChunkBytes(), h.maxChunkBytes());
        assertEquals(4 * 32 + 1024,
                     new Header("m", 30, 40, 3, 32, 64, 1, EntropyMode.CONTEXT).maxChunkBytes());
        assertEquals(1, h.withIterations(1).iterations());
    }

    @Test
    public void invalidHeadersCannotBeWritten() {
        Header[] bad = {
            new Header("", 1, 1, 3, 32, 32, 1, EntropyMode.RAW),
            new Header("caf\u00e9", 1, 1, 3, 32, 32, 1, EntropyMode.RAW),
            new Header("m", 0, 1, 3, 32, 32, 1, EntropyMode.RAW),
            new Header("m", 1L << 32, 1, 3, 1L << 32, 32, 1, EntropyMode.RAW),
            new Header("m", 1, 1, 2, 32, 32, 1, EntropyMode.RAW),
            new Header("m", 1, 1, 3, 48, 32, 1, EntropyMode.RAW),
            new Header("m", 1, 1, 3, 32, 32, 65, EntropyMode.RAW),
            new Header("m", 1, 1, 3, 32, 32, 1, EntropyMode.RAW, 0, 32, null),
            new Header("m", 1, 1, 3, 32, 32, 1, EntropyMode.RAW, 16, 256, null),
        };
        for (Header h : bad) {
            try {
                Bitstream.encodeHeader(h);
                fail("wrote " + h);
            } catch (BitstreamException expected) {
                assertEquals(BitstreamException.Kind.MALFORMED, expected.kind());
            }
        }
        // the pixel limit applies to reading only
        Header huge = new Header("m", 20000, 20000, 3, 20000, 20000, 1, EntropyMode.CONTEXT);
        try {
            byte[] data = Bitstream.encodeHeader(huge);
            Bitstream.decodeHeader(data);
            fail("read a 400-megapixel header");
        } catch (BitstreamException expected) {
            assertEquals(BitstreamException.Kind.LIMIT, expected.kind());
        }
    }

    @Test
    public void writeChecksTheChunksAgainstTheHeader() throws Exception {
        Header h = new Header("m", 30, 40, 3, 32, 64, 2, EntropyMode.RAW);
        List<byte[]> one = new ArrayList<>();
        one.add(new byte[32]);
        try {
            Bitstream.write(h, one);
            fail("wrote 1 chunk for 2 iterations");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("declares 2 iterations"));
        }
        one.add(new byte[31]);
        try {
            Bitstream.write(h, one);
            fail("wrote a short RAW chunk");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("RAW chunks must be 32 bytes"));
        }
    }

    @Test
    public void rawCodesPackMostSignificantBitFirst() throws Exception {
        byte[] codes = {1, -1, -1, -1, -1, -1, -1, 1, 1, 1, -1};
        byte[] packed = Bitstream.packCodes(codes);
        assertArrayEquals(new byte[] {(byte) 0x81, (byte) 0xC0}, packed);
        assertArrayEquals(codes, Bitstream.unpackCodes(packed, codes.length));
        try {
            Bitstream.packCodes(new byte[] {0});
            fail("packed a 0");
        } catch (IllegalArgumentException expected) {
            // ok
        }
        try {
            Bitstream.unpackCodes(packed, 17);
            fail("unpacked 17 bits from 2 bytes");
        } catch (BitstreamException expected) {
            assertEquals(BitstreamException.Kind.MALFORMED, expected.kind());
        }
    }

    @Test
    public void pythonReprMatchesPython() {
        assertEquals("''", Header.pythonRepr(""));
        assertEquals("'abc'", Header.pythonRepr("abc"));
        assertEquals("\"it's\"", Header.pythonRepr("it's"));
        assertEquals("'ti\\x01ny\\'q\"\\\\'", Header.pythonRepr("ti\u0001ny'q\"\\"));
        assertEquals("'a\\tb\\nc\\x7f'", Header.pythonRepr("a\tb\nc\u007f"));
    }

    @Test
    public void shownIdCutsLongIdsAsPythonDoes() {
        // tfrnncomp.errors.shown_id of the same strings
        String sixty = new String(new char[60]).replace('\0', 'm');
        assertEquals("'binaryrnn@3b73e88f'", Header.shownId("binaryrnn@3b73e88f"));
        assertEquals("'" + sixty + "'", Header.shownId(sixty));
        String cut = new String(new char[59]).replace('\0', 'x') + "'";
        assertEquals("\"" + cut + "\"... (62 characters)", Header.shownId(cut + "yz"));
    }
}
