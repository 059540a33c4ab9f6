# Sourced by every script of the project: finds JDK 25 and puts it first on PATH.
# Order: $ZREPL4J_JAVA_HOME, $JAVA_HOME if it is 25+, then the Temurin 25 of these machines,
# then any /usr/lib/jvm/*25* or newer. Exits with a clear message if none is found.
zrepl4j_java_ok() { [ -x "$1/bin/java" ] && "$1/bin/java" -version 2>&1 | head -1 | grep -Eq '"(2[5-9]|[3-9][0-9])(\.|")'; }
zrepl4j_find_jdk() {
  local c
  for c in "${ZREPL4J_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 \
           /usr/lib/jvm/*-25* /usr/lib/jvm/*-2[6-9]* /usr/lib/jvm/temurin-*; do
    [ -n "$c" ] && zrepl4j_java_ok "$c" && { echo "$c"; return 0; }
  done
  return 1
}
if ! JAVA_HOME=$(zrepl4j_find_jdk); then
  echo "zrepl4j: no JDK 25 or newer found (looked at \$ZREPL4J_JAVA_HOME, \$JAVA_HOME, /usr/lib/jvm); install Temurin 25" >&2
  exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"
if ! command -v mvn >/dev/null 2>&1; then
  echo "zrepl4j: installing maven" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven) >&2
fi
