package org.tfrnncomp.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/** Minimal reader of NumPy {@code .npz} archives / {@code .npy} arrays (C order only). */
final class Npz {
    /** One array: dtype descriptor, shape and raw little-endian bytes. */
    static final class Array {
        final String descr;
        final int[] shape;
        final byte[] raw;

        Array(String descr, int[] shape, byte[] raw) {
            this.descr = descr;
            this.shape = shape;
            this.raw = raw;
        }

        int size() {
            int n = 1;
            for (int s : shape) {
                n *= s;
            }
            return n;
        }

        /** Values of a 1-byte dtype (|u1, |i1, |b1) as stored. */
        byte[] bytes() {
            if (!descr.equals("|u1") && !descr.equals("|i1") && !descr.equals("|b1")) {
                throw new IllegalStateException("not a byte array: " + descr);
            }
            return raw.clone();
        }

        /** Values of an integer dtype widened to long. */
        long[] longs() {
            long[] out = new long[size()];
            ByteBuffer b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < out.length; i++) {
                switch (descr) {
                    case "|u1": out[i] = raw[i] & 0xFF; break;
                    case "|i1": out[i] = raw[i]; break;
                    case "<i4": out[i] = b.getInt(4 * i); break;
                    case "<i8": out[i] = b.getLong(8 * i); break;
                    default: throw new IllegalStateException("unsupported dtype " + descr);
                }
            }
            return out;
        }

        /** Values of a float32 array. */
        float[] floats() {
            if (!descr.equals("<f4")) {
                throw new IllegalStateException("not float32: " + descr);
            }
            float[] out = new float[size()];
            ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
            return out;
        }

        int[] ints() {
            long[] l = longs();
            int[] out = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                out[i] = Math.toIntExact(l[i]);
            }
            return out;
        }
    }

    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([^']+)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order':\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    static Array parseNpy(byte[] data) {
        if ((data[0] & 0xFF) != 0x93 || data[1] != 'N' || data[2] != 'U') {
            throw new IllegalArgumentException("not an .npy array");
        }
        int major = data[6];
        int headerLen;
        int start;
        if (major == 1) {
            headerLen = (data[8] & 0xFF) | (data[9] & 0xFF) << 8;
            start = 10;
        } else {
            headerLen = ByteBuffer.wrap(data, 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            start = 12;
        }
        String header = new String(data, start, headerLen, StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher f = FORTRAN.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !s.find()) {
            throw new IllegalArgumentException("bad .npy header " + header);
        }
        if (f.group(1).equals("True")) {
            throw new IllegalArgumentException("Fortran order is not supported");
        }
        String[] parts = s.group(1).split(",");
        int count = 0;
        for (String p : parts) {
            if (!p.trim().isEmpty()) {
                count++;
            }
        }
        int[] shape = new int[count];
        int i = 0;
        for (String p : parts) {
            if (!p.trim().isEmpty()) {
                shape[i++] = Integer.parseInt(p.trim());
            }
        }
        byte[] raw = new byte[data.length - start - headerLen];
        System.arraycopy(data, start + headerLen, raw, 0, raw.length);
        return new Array(d.group(1), shape, raw);
    }

    static Map<String, Array> read(InputStream in) throws IOException {
        Map<String, Array> out = new HashMap<>();
        try (ZipInputStream zip = new ZipInputStream(in)) {
            ZipEntry entry;
            while ((entry = zip.getNextEntry()) != null) {
                String name = entry.getName();
                if (name.endsWith(".npy")) {
                    name = name.substring(0, name.length() - 4);
                }
                out.put(name, parseNpy(readAll(zip)));
            }
        }
        return out;
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        int n;
        while ((n = in.read(buf)) > 0) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    private Npz() {
    }
}
