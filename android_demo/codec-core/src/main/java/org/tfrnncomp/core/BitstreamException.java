package org.tfrnncomp.core;

/**
 * A {@code .trc} file (or one of its chunks) cannot be used.
 *
 * <p>The {@link Kind} tells the cases apart the way the Python package's error
 * classes do ({@code tfrnncomp.errors}); the messages are the Python messages
 * word for word, except that the hint at the end of a {@link Kind#LIMIT}
 * message names this library's parameter.
 */
public final class BitstreamException extends Exception {
    private static final long serialVersionUID = 1L;

    /** What went wrong; the Python error class is given for each. */
    public enum Kind {
        /** A malformed field, trailing data, an undecodable chunk ({@code BitstreamError}). */
        MALFORMED("BitstreamError"),
        /** A header or chunk CRC32 does not match ({@code ChecksumError}). */
        CHECKSUM("ChecksumError"),
        /** The file ends inside the header or inside its first chunk ({@code TruncatedError}). */
        TRUNCATED("TruncatedError"),
        /** The file was written by a newer format version ({@code UnsupportedVersionError}). */
        UNSUPPORTED_VERSION("UnsupportedVersionError"),
        /** The header claims more pixels than allowed ({@code LimitError}). */
        LIMIT("LimitError"),
        /** A valid file whose entropy mode this library cannot decode ({@code BitstreamError}). */
        UNSUPPORTED_MODE("BitstreamError"),
        /** The file was written by another model than the caller's ({@code ModelMismatchError}). */
        MODEL_MISMATCH("ModelMismatchError");

        private final String pythonName;

        Kind(String pythonName) {
            this.pythonName = pythonName;
        }

        /** Name of the matching error class of the Python package. */
        public String pythonName() {
            return pythonName;
        }
    }

    private final Kind kind;

    public BitstreamException(Kind kind, String message) {
        super(message);
        if (kind == null) {
            throw new NullPointerException("kind");
        }
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    @Override
    public String toString() {
        return "BitstreamException(" + kind + "): " + getMessage();
    }
}
