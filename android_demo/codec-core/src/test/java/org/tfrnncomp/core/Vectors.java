package org.tfrnncomp.core;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The golden vectors written by tools/make_vectors.py (test resources, {@code /vectors/});
 * the methods with a {@code dir} argument read another folder of test resources
 * (tools/make_binaryrnn_vectors.py writes {@code /vectors_binaryrnn/}).
 */
final class Vectors {
    /** One line of index.txt. */
    static final class Entry {
        final String kind;
        final String file;
        final Map<String, String> fields;

        Entry(String kind, String file, Map<String, String> fields) {
            this.kind = kind;
            this.file = file;
            this.fields = fields;
        }

        String get(String key) {
            String v = fields.get(key);
            if (v == null) {
                throw new IllegalArgumentException(file + " has no field " + key);
            }
            return v;
        }

        int getInt(String key) {
            return Integer.parseInt(get(key));
        }

        long getLong(String key) {
            return Long.parseLong(get(key));
        }

        int[] getShape(String key) {
            String[] parts = get(key).split(",");
            int[] out = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                out[i] = Integer.parseInt(parts[i]);
            }
            return out;
        }

        @Override
        public String toString() {
            return kind + " " + file;
        }
    }

    static final String DEFAULT_DIR = "vectors";
    private static final Map<String, List<Entry>> INDEXES = new LinkedHashMap<>();

    static List<Entry> index() throws IOException {
        return index(DEFAULT_DIR);
    }

    static synchronized List<Entry> index(String dir) throws IOException {
        List<Entry> index = INDEXES.get(dir);
        if (index == null) {
            String text = new String(bytes(dir, "index.txt"), StandardCharsets.UTF_8);
            List<Entry> entries = new ArrayList<>();
            for (String line : text.split("\n")) {
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                String[] parts = line.split("\t", -1);
                Map<String, String> fields = new LinkedHashMap<>();
                for (String p : Arrays.asList(parts).subList(2, parts.length)) {
                    int eq = p.indexOf('=');
                    fields.put(p.substring(0, eq), p.substring(eq + 1));
                }
                entries.add(new Entry(parts[0], parts[1], fields));
            }
            index = entries;
            INDEXES.put(dir, index);
        }
        return index;
    }

    static List<Entry> of(String kind) throws IOException {
        return of(DEFAULT_DIR, kind);
    }

    static List<Entry> of(String dir, String kind) throws IOException {
        List<Entry> out = new ArrayList<>();
        for (Entry e : index(dir)) {
            if (e.kind.equals(kind)) {
                out.add(e);
            }
        }
        if (out.isEmpty()) {
            throw new IllegalStateException("no vectors of kind " + kind
                + "; run tools/make_vectors.py");
        }
        return out;
    }

    static Entry find(String file) throws IOException {
        for (Entry e : index()) {
            if (e.file.equals(file)) {
                return e;
            }
        }
        throw new IllegalArgumentException("no vector " + file);
    }

    static byte[] bytes(String name) throws IOException {
        return bytes(DEFAULT_DIR, name);
    }

    static byte[] bytes(String dir, String name) throws IOException {
        InputStream in = Vectors.class.getResourceAsStream("/" + dir + "/" + name);
        if (in == null) {
            throw new IOException("test resource /" + dir + "/" + name
                + " not found; run the vector scripts in tools/");
        }
        try {
            return Npz.readAll(in);
        } finally {
            in.close();
        }
    }

    static Map<String, Npz.Array> npz(String name) throws IOException {
        return npz(DEFAULT_DIR, name);
    }

    static Map<String, Npz.Array> npz(String dir, String name) throws IOException {
        InputStream in = Vectors.class.getResourceAsStream("/" + dir + "/" + name);
        if (in == null) {
            throw new IOException("test resource /" + dir + "/" + name + " not found");
        }
        return Npz.read(in);
    }

    /** Slice {@code [offsets[i], offsets[i + 1])} of a flat array. */
    static byte[] slice(byte[] flat, long[] offsets, int i) {
        return Arrays.copyOfRange(flat, (int) offsets[i], (int) offsets[i + 1]);
    }

    static int[] slice(int[] flat, long[] offsets, int i) {
        return Arrays.copyOfRange(flat, (int) offsets[i], (int) offsets[i + 1]);
    }

    private Vectors() {
    }
}
