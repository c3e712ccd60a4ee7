#!/usr/bin/env bash
# The local stack for the demo, the tests and the benchmarks: a real Apache Kafka 4.x broker
# (KRaft, one combined broker+controller node, jars from Maven Central via ops/kafka/pom.xml)
# and a real redis-server, both on loopback. No Docker.
#
#   ops/stack.sh up       start both (idempotent), wait until Kafka answers metadata requests
#   ops/stack.sh down     stop both cleanly (SIGTERM, then SIGKILL after a grace period)
#   ops/stack.sh status   say what runs where
#   ops/stack.sh env      print KAFKA_BOOTSTRAP_SERVERS / REDIS_URL as shell assignments
#
# Settings (environment): CX_STACK_DIR (state, logs, pid files; default .stack in the repo),
# KAFKA_PORT (default 9092, or "auto" for a free port), REDIS_PORT (default 6379 or "auto"),
# PYTHON (an interpreter with confluent-kafka, for the readiness check; default .venv/bin/python).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${CX_STACK_DIR:-$ROOT/.stack}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
POM=$ROOT/ops/kafka/pom.xml
KAFKA_HEAP=${KAFKA_HEAP:-768m}
READY_TIMEOUT=${READY_TIMEOUT:-90}

log() { printf '[stack] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

free_port() {
  "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pick_port() { # $1 = requested port or "auto"
  if [[ "$1" == auto ]]; then free_port; else echo "$1"; fi
}

is_running() { # $1 = pid file
  [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

kafka_classpath() {
  # Resolving through Maven caches the jars in ~/.m2; the classpath file is cached per pom hash.
  local hash cache
  hash=$(sha256sum "$POM" | cut -c1-16)
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/cxstream/kafka-classpath-$hash.txt
  if [[ -s "$cache" ]] && tr ':' '\n' <"$cache" | while read -r jar; do [[ -f "$jar" ]] || exit 1; done; then
    cat "$cache"; return
  fi
  command -v mvn >/dev/null || die "mvn not found: run ops/setup.sh (installs Maven and a JDK)"
  mkdir -p "$(dirname "$cache")"
  log "resolving Kafka jars from Maven Central (first run only)"
  mvn -q -B -f "$POM" dependency:build-classpath -Dmdep.outputFile="$cache.tmp" >&2 \
    || die "Maven could not resolve the Kafka jars (see output above)"
  mv "$cache.tmp" "$cache"
  cat "$cache"
}

write_kafka_config() { # $1 kafka port, $2 controller port
  sed -e "s|@KAFKA_PORT@|$1|g" -e "s|@CONTROLLER_PORT@|$2|g" -e "s|@DATA_DIR@|$STACK_DIR/kafka-data|g" \
    "$ROOT/ops/kafka/server.properties.in" >"$STACK_DIR/server.properties"
}

start_kafka() {
  local cp port controller_port
  is_running "$STACK_DIR/kafka.pid" && { log "kafka already running"; return; }
  cp=$(kafka_classpath)
  port=$(pick_port "${KAFKA_PORT:-9092}")
  controller_port=$(free_port)
  mkdir -p "$STACK_DIR/kafka-logs"
  write_kafka_config "$port" "$controller_port"
  rm -rf "$STACK_DIR/kafka-data"
  java -cp "$cp" kafka.tools.StorageTool format --ignore-formatted \
    -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid)" \
    -c "$STACK_DIR/server.properties" >"$STACK_DIR/kafka-format.log" 2>&1 \
    || die "kafka storage format failed: $(tail -n 5 "$STACK_DIR/kafka-format.log")"
  # setsid: the broker must not die with the shell that started it, nor take Ctrl-C meant for it.
  setsid java -Xms256m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true "-Dkafka.logs.dir=$STACK_DIR/kafka-logs" \
    "-Dlog4j2.configurationFile=$ROOT/ops/kafka/log4j2.properties" \
    -cp "$cp" kafka.Kafka "$STACK_DIR/server.properties" \
    >"$STACK_DIR/kafka.out" 2>&1 </dev/null &
  echo $! >"$STACK_DIR/kafka.pid"
  echo "127.0.0.1:$port" >"$STACK_DIR/kafka.bootstrap"
  log "kafka starting on 127.0.0.1:$port (pid $(cat "$STACK_DIR/kafka.pid"))"
}

start_redis() {
  local port
  is_running "$STACK_DIR/redis.pid" && { log "redis already running"; return; }
  command -v redis-server >/dev/null || die "redis-server not found: run ops/setup.sh"
  port=$(pick_port "${REDIS_PORT:-6379}")
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
    --pidfile "$STACK_DIR/redis.pid" --logfile "$STACK_DIR/redis.log" --dir "$STACK_DIR" \
    || die "redis-server failed: $(tail -n 5 "$STACK_DIR/redis.log" 2>/dev/null)"
  echo "redis://127.0.0.1:$port/0" >"$STACK_DIR/redis.url"
  for _ in $(seq 1 50); do [[ -s "$STACK_DIR/redis.pid" ]] && break; sleep 0.1; done
  log "redis on 127.0.0.1:$port (pid $(cat "$STACK_DIR/redis.pid"))"
}

wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT)) bootstrap
  bootstrap=$(cat "$STACK_DIR/kafka.bootstrap")
  until "$PYTHON" "$ROOT/ops/kafka_ready.py" "$bootstrap" 2>/dev/null; do
    is_running "$STACK_DIR/kafka.pid" \
      || die "kafka exited during start-up: $(tail -n 20 "$STACK_DIR/kafka.out" "$STACK_DIR/kafka-logs/server.log" 2>/dev/null)"
    ((SECONDS < deadline)) || die "kafka not ready after ${READY_TIMEOUT}s (logs in $STACK_DIR)"
    sleep 0.3
  done
  log "kafka ready at $bootstrap"
}

stop_pidfile() { # $1 name, $2 pid file
  local pid
  is_running "$2" || { rm -f "$2"; return; }
  pid=$(cat "$2")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then log "$1 did not stop in 30 s; killing"; kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$2"
  log "$1 stopped"
}

print_env() {
  [[ -f "$STACK_DIR/kafka.bootstrap" ]] && echo "KAFKA_BOOTSTRAP_SERVERS=$(cat "$STACK_DIR/kafka.bootstrap")"
  [[ -f "$STACK_DIR/redis.url" ]] && echo "REDIS_URL=$(cat "$STACK_DIR/redis.url")"
  return 0
}

status() {
  local rc=0
  if is_running "$STACK_DIR/kafka.pid"; then echo "kafka: running at $(cat "$STACK_DIR/kafka.bootstrap") (pid $(cat "$STACK_DIR/kafka.pid"))"; else echo "kafka: stopped"; rc=1; fi
  if is_running "$STACK_DIR/redis.pid"; then echo "redis: running at $(cat "$STACK_DIR/redis.url") (pid $(cat "$STACK_DIR/redis.pid"))"; else echo "redis: stopped"; rc=1; fi
  return $rc
}

main() {
  mkdir -p "$STACK_DIR"
  case "${1:-}" in
    up) start_redis; start_kafka; wait_ready; print_env ;;
    down) stop_pidfile kafka "$STACK_DIR/kafka.pid"; stop_pidfile redis "$STACK_DIR/redis.pid" ;;
    status) status ;;
    env) print_env ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
  esac
}

main "$@"
