# Finds a JDK that can build and run Merit; sourced (POSIX sh) by ./merit, ./mvnw, benchmarks/run and .ci/run.
#
#   merit_find_jdk     sets MERIT_JDK to the first JDK >= MERIT_MIN_JAVA (default 25), looking at
#                      JAVA_HOME, /usr/lib/jvm, /opt, SDKMAN's and Gradle's JDKs, then `java` on PATH;
#                      returns 1 when there is none.
#   merit_use_jdk WHO  exports JAVA_HOME as that JDK, or explains what to install (prefixed with WHO)
#                      and returns 1.
#
# A JDK's version comes from its `release` file, so finding one starts no JVM and no other process
# (./merit does this on every command); only a JDK without that file is asked with `java -version`.

MERIT_MIN_JAVA="${MERIT_MIN_JAVA:-25}"

# Sets MERIT_JDK_MAJOR to the feature version of the JDK at $1 (e.g. 25), or to nothing.
# Plain shell, no subprocess for a JDK with a `release` file: ./merit runs this on every command.
merit_jdk_major() {
  MERIT_JDK_MAJOR=""
  if [ -f "$1/release" ]; then
    while IFS= read -r _line || [ -n "$_line" ]; do
      case "$_line" in
        JAVA_VERSION=*) MERIT_JDK_MAJOR="${_line#JAVA_VERSION=}"; break ;;
      esac
    done <"$1/release"
  fi
  if [ -z "$MERIT_JDK_MAJOR" ] && [ -x "$1/bin/java" ]; then
    MERIT_JDK_MAJOR="$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1)"
  fi
  MERIT_JDK_MAJOR="${MERIT_JDK_MAJOR#\"}"
  case "$MERIT_JDK_MAJOR" in
    1.*) MERIT_JDK_MAJOR="${MERIT_JDK_MAJOR#1.}" ;;
  esac
  MERIT_JDK_MAJOR="${MERIT_JDK_MAJOR%%[!0-9]*}"
}

# True when $1 is a JDK (java and javac) of version MERIT_MIN_JAVA or newer.
merit_is_jdk() {
  [ -n "$1" ] && [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 1
  merit_jdk_major "$1"
  [ -n "$MERIT_JDK_MAJOR" ] && [ "$MERIT_JDK_MAJOR" -ge "$MERIT_MIN_JAVA" ]
}

# Sets MERIT_JDK to the first JDK >= MERIT_MIN_JAVA; returns 1 when there is none.
merit_find_jdk() {
  MERIT_JDK=""
  if merit_is_jdk "${JAVA_HOME:-}"; then
    MERIT_JDK="$JAVA_HOME"
    return 0
  fi
  _restore_glob=""
  case "$-" in *f*) set +f; _restore_glob=1 ;; esac
  for _home in /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/*3[0-9]* /usr/lib/jvm/* \
      /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* "$HOME"/.gradle/jdks/*; do
    if merit_is_jdk "$_home"; then
      MERIT_JDK="$_home"
      break
    fi
  done
  [ -n "$_restore_glob" ] && set -f
  if [ -z "$MERIT_JDK" ] && _java="$(command -v java 2>/dev/null)"; then
    _home="$(dirname "$(dirname "$(readlink -f "$_java")")")"
    merit_is_jdk "$_home" && MERIT_JDK="$_home"
  fi
  [ -n "$MERIT_JDK" ]
}

merit_use_jdk() {
  if ! merit_find_jdk; then
    echo "$1: needs a JDK $MERIT_MIN_JAVA or newer (none found in JAVA_HOME, /usr/lib/jvm, /opt, SDKMAN or on PATH)." >&2
    echo "$1: install one (e.g. Eclipse Temurin $MERIT_MIN_JAVA: https://adoptium.net) and set JAVA_HOME to it." >&2
    return 1
  fi
  if [ -n "${JAVA_HOME:-}" ] && [ "$JAVA_HOME" != "$MERIT_JDK" ]; then
    echo "$1: JAVA_HOME ($JAVA_HOME) is not a JDK $MERIT_MIN_JAVA or newer; using $MERIT_JDK" >&2
  fi
  JAVA_HOME="$MERIT_JDK"
  export JAVA_HOME
}
