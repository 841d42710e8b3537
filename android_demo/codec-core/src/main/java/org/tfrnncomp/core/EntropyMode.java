package org.tfrnncomp.core;

/** How chunk payloads are coded (the header's entropy byte). */
public enum EntropyMode {
    /** Packed bits, +1 -> 1, C order, most significant bit first. */
    RAW(0),
    /** Reserved for the paper's BinaryRNN entropy coder; not decodable here (nor in Python). */
    BINARYRNN(1),
    /** Range-coded with the integer context model ({@link ContextModel}). */
    CONTEXT(2);

    private final int code;

    EntropyMode(int code) {
        this.code = code;
    }

    /** The value stored in the header. */
    public int code() {
        return code;
    }

    /** The mode stored as {@code code}, or {@code null} if there is none. */
    public static EntropyMode fromCode(int code) {
        for (EntropyMode mode : values()) {
            if (mode.code == code) {
                return mode;
            }
        }
        return null;
    }

    /** Lower-case name as the Python package and its CLI spell it ("raw", "context"...). */
    public String pythonName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
