#!/bin/sh
# Compiles codec-core (main + tests) with javac and runs the JUnit 4 tests.
# No Gradle or Android SDK needed: a JDK (8 or newer) and junit4 + hamcrest jars.
#
#   android_demo/codec-core/build.sh            # build into android_demo/codec-core/build/
#   BUILD_DIR=/tmp/cc build.sh                   # elsewhere
#   JUNIT_JAR=... HAMCREST_JAR=... build.sh      # jars outside /usr/share/java
#   build.sh bench [MODEL.bin [OUT_DIR [FILE.trc ...]]]
#       no tests: times BinaryRNN entropy decoding (BinaryRnnBench) with MODEL (default
#       the shipped tfrnncomp/model/zoo/gru-w25/binaryrnn.bin) and writes OUT_DIR/java.{json,md}
#       (default results/entropy)
#
# Exits non-zero if compilation or any test fails.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${BUILD_DIR:-"$HERE/build"}
JUNIT_JAR=${JUNIT_JAR:-/usr/share/java/junit4.jar}
HAMCREST_JAR=${HAMCREST_JAR:-/usr/share/java/hamcrest-core.jar}
[ -f "$HAMCREST_JAR" ] || HAMCREST_JAR=/usr/share/java/hamcrest.jar

for tool in javac java; do
    command -v "$tool" >/dev/null 2>&1 || { echo "build.sh: $tool not found" >&2; exit 2; }
done
for jar in "$JUNIT_JAR" "$HAMCREST_JAR"; do
    [ -f "$jar" ] || { echo "build.sh: $jar not found (apt-get install junit4)" >&2; exit 2; }
done
[ -f "$HERE/src/test/resources/vectors/index.txt" ] || {
    echo "build.sh: test vectors missing; run tools/make_vectors.py" >&2; exit 2; }

rm -rf "$BUILD_DIR/classes" "$BUILD_DIR/test-classes"
mkdir -p "$BUILD_DIR/classes" "$BUILD_DIR/test-classes"

# --release 8: the library must stay within the Java 8 API that Android offers.
JAVAC_FLAGS="--release 8 -Xlint:all,-options -Werror -encoding UTF-8"
find "$HERE/src/main/java" -name '*.java' > "$BUILD_DIR/main-sources.txt"
javac $JAVAC_FLAGS -d "$BUILD_DIR/classes" @"$BUILD_DIR/main-sources.txt"

CP="$BUILD_DIR/classes:$JUNIT_JAR:$HAMCREST_JAR"
find "$HERE/src/test/java" -name '*.java' > "$BUILD_DIR/test-sources.txt"
javac $JAVAC_FLAGS -cp "$CP" -d "$BUILD_DIR/test-classes" @"$BUILD_DIR/test-sources.txt"

# the library must not depend on Android (or anything outside java.*)
if command -v jdeps >/dev/null 2>&1; then
    if jdeps -verbose:class "$BUILD_DIR/classes" | grep -E -- '-> +(android|androidx|kotlin|org\.tensorflow)\.' ; then
        echo "build.sh: codec-core must be plain Java" >&2; exit 1
    fi
fi

if [ "${1:-}" = bench ]; then
    ROOT=$(cd "$HERE/../.." && pwd)
    MODEL=${2:-"$ROOT/tfrnncomp/model/zoo/gru-w25/binaryrnn.bin"}
    OUT=${3:-"$ROOT/results/entropy"}
    [ -f "$MODEL" ] || { echo "build.sh bench: no BinaryRNN model file $MODEL" >&2; exit 2; }
    shift $(( $# < 3 ? $# : 3 ))
    exec java -cp "$CP:$BUILD_DIR/test-classes" org.tfrnncomp.core.BinaryRnnBench "$MODEL" "$OUT" "$@"
fi

TESTS=$(cd "$BUILD_DIR/test-classes" && find . -name '*Test.class' | sed 's|^\./||; s|\.class$||; s|/|.|g' | sort)
exec java -cp "$CP:$BUILD_DIR/test-classes:$HERE/src/test/resources" org.junit.runner.JUnitCore $TESTS
