# Finds a JDK that can build and run Merit; sourced (POSIX sh) by ./merit, ./mvnw, benchmarks/run and .ci/run.
#
#   merit_find_jdk     prints the home of the first JDK >= MERIT_MIN_JAVA (default 25), looking at
#                      JAVA_HOME, /usr/lib/jvm, /opt, SDKMAN's and Gradle's JDKs, then `java` on PATH;
#                      returns 1 when there is none.
#   merit_use_jdk WHO  exports JAVA_HOME as that JDK, or explains what to install (prefixed with WHO)
#                      and returns 1.
#
# A JDK's version comes from its `release` file, so finding one starts no JVM (a JVM start costs more
# than the rest of a short merit command); only a JDK without that file is asked with `java -version`.

MERIT_MIN_JAVA="${MERIT_MIN_JAVA:-25}"

# The feature version of the JDK at $1 (e.g. 25), or nothing.
merit_jdk_major() {
  _v=""
  if [ -f "$1/release" ]; then
    _v="$(sed -n 's/^JAVA_VERSION="\{0,1\}\([0-9][0-9.]*\).*/\1/p' "$1/release" | head -n 1)"
  fi
  if [ -z "$_v" ] && [ -x "$1/bin/java" ]; then
    _v="$("$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1)"
  fi
  case "$_v" in
    1.*) _v="${_v#1.}" ;;
  esac
  echo "${_v%%.*}"
}

merit_find_jdk() {
  _restore_glob=""
  case "$-" in *f*) set +f; _restore_glob=1 ;; esac
  _java="$(command -v java 2>/dev/null || true)"
  _path_home=""
  [ -n "$_java" ] && _path_home="$(dirname "$(dirname "$(readlink -f "$_java")")")"
  _found=""
  for _home in "${JAVA_HOME:-}" /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/*3[0-9]* /usr/lib/jvm/* \
      /opt/java/* /opt/jdk* "$HOME"/.sdkman/candidates/java/* "$HOME"/.gradle/jdks/* "$_path_home"; do
    [ -n "$_home" ] && [ -x "$_home/bin/java" ] && [ -x "$_home/bin/javac" ] || continue
    _major="$(merit_jdk_major "$_home")"
    if [ -n "$_major" ] && [ "$_major" -ge "$MERIT_MIN_JAVA" ]; then
      _found="$_home"
      break
    fi
  done
  [ -n "$_restore_glob" ] && set -f
  [ -n "$_found" ] || return 1
  echo "$_found"
}

merit_use_jdk() {
  if ! _jdk="$(merit_find_jdk)"; then
    echo "$1: needs a JDK $MERIT_MIN_JAVA or newer (none found in JAVA_HOME, /usr/lib/jvm, /opt, SDKMAN or on PATH)." >&2
    echo "$1: install one (e.g. Eclipse Temurin $MERIT_MIN_JAVA: https://adoptium.net) and set JAVA_HOME to it." >&2
    return 1
  fi
  if [ -n "${JAVA_HOME:-}" ] && [ "$JAVA_HOME" != "$_jdk" ]; then
    echo "$1: JAVA_HOME ($JAVA_HOME) is not a JDK $MERIT_MIN_JAVA or newer; using $_jdk" >&2
  fi
  JAVA_HOME="$_jdk"
  export JAVA_HOME
}
