package org.tfrnncomp.core;

import java.util.ArrayList;
import java.util.List;

/**
 * Writes {@code .trc} files from per-iteration codes, byte-identical to
 * {@code Codec.encode_chunks} + {@code bitstream.write} of the Python package.
 * (Producing the codes needs the neural encoder, which is not part of this library.)
 */
public final class Encoder {
    private Encoder() {
    }

    /** Chunk payloads of every iteration: packed bits (raw) or context-coded bits. */
    public static List<byte[]> encodeChunks(List<Codes> codes, EntropyMode mode) {
        List<byte[]> chunks = new ArrayList<>();
        byte[] prev1 = null;
        byte[] prev2 = null;
        for (Codes c : codes) {
            if (mode == EntropyMode.RAW) {
                chunks.add(Bitstream.packCodes(c.valuesView()));
            } else if (mode == EntropyMode.CONTEXT) {
                byte[] bits = c.toBits();
                chunks.add(ContextModel.encode(bits, c.rows(), c.cols(), c.depth(), prev1, prev2));
                prev2 = prev1;
                prev1 = bits;
            } else {
                throw new IllegalArgumentException("entropy mode " + mode.pythonName()
                                                   + " cannot be encoded");
            }
        }
        return chunks;
    }

    /** A whole file: the header (its iterations must equal {@code codes.size()}) and chunks. */
    public static byte[] encodeFile(Header header, List<Codes> codes) throws BitstreamException {
        for (Codes c : codes) {
            if (c.rows() != header.codeRows() || c.cols() != header.codeCols()
                    || c.depth() != header.codeDepth()) {
                throw new IllegalArgumentException(c + " does not match the header's code shape "
                    + header.codeRows() + "x" + header.codeCols() + "x" + header.codeDepth());
            }
        }
        return Bitstream.write(header, encodeChunks(codes, header.entropyMode()));
    }
}
