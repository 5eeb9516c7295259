#!/bin/bash
# Outputs, end to end, against a running agent and real containers:
#  - two `vigil tail` clients see a container's events, one filtered to it;
#  - a client that stops reading is cut off (counted) while the other one
#    keeps up;
#  - a real rsyslog on loopback (TCP octet counting, UDP, its own unix
#    socket) receives the alerts, and what it stores is valid JSON;
#  - a file sink on a tiny tmpfs fills up: the agent neither stalls nor
#    dies, and the loss is counted;
#  - curl scrapes the Prometheus counters; bad requests get 4xx;
#  - every record the agent wrote holds to schema/vigil.schema.json.
# Only loopback is used; the metadata connect (vg-connect) runs with
# --network none.
. "$(dirname "$0")/lib.sh"

docker image inspect "$IMAGE" >/dev/null 2>&1 || IMAGE=vigil-test-bb
help=$("$VIGIL" run --help 2>&1)
if ! grep -q -- '--output' <<<"$help" || ! grep -q -- '--metrics' <<<"$help"; then
	ok "outputs # SKIP vigil run has no --output/--metrics yet"
	finish
fi
# where the agent serves the live tail (a private socket when it can be set)
SOCK=/run/vigil/vigil.sock
sockopt=()
for f in --tail-socket --socket; do
	if grep -q -- "$f" <<<"$help"; then
		SOCK="$T/vigil.sock"
		sockopt=("$f" "$SOCK")
		break
	fi
done
export VIGIL_SOCKET=$SOCK
statsopt=()
grep -q -- '--stats-interval' <<<"$help" && statsopt=(--stats-interval 1)

port() { # a free loopback TCP port
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
MPORT=$(port)
SPORT=$(port)
P="vg-out-$$"

# ---- a real rsyslog on loopback ----
mkdir -p "$T/rs"
cat > "$T/rs/rsyslog.conf" <<CONF
global(workDirectory="$T/rs" maxMessageSize="64k")
module(load="imtcp")
module(load="imudp")
module(load="imuxsock" SysSock.Use="off")
input(type="imtcp" port="$SPORT" address="127.0.0.1")
input(type="imudp" port="$SPORT" address="127.0.0.1")
input(type="imuxsock" Socket="$T/rs/log")
template(name="msgonly" type="string" string="%msg%\n")
template(name="proto" type="string" string="%inputname% %msg%\n")
*.* action(type="omfile" file="$T/rs/msgs.json" template="msgonly")
*.* action(type="omfile" file="$T/rs/proto.log" template="proto")
CONF
rsyslogd -n -f "$T/rs/rsyslog.conf" -i "$T/rs/pid" > "$T/rs/out" 2>&1 &
RS_PID=$!
for _ in $(seq 50); do [ -S "$T/rs/log" ] && break; sleep 0.1; done

# ---- a tiny tmpfs for the file sink ----
mkdir -p "$T/full" "$T/rot"
mount -t tmpfs -o size=128k tmpfs "$T/full"

stop_rsyslog() {
	[ -n "${RS_PID:-}" ] && kill "$RS_PID" 2>/dev/null && wait "$RS_PID" 2>/dev/null
	RS_PID=
	mountpoint -q "$T/full" && umount "$T/full"
}
trap 'stop_rsyslog; cleanup' EXIT

start_agent "$T/feed.json" --events "${sockopt[@]}" "${statsopt[@]}" \
	--metrics "127.0.0.1:$MPORT" \
	--output "file:$T/all.json" \
	--output "file:$T/rot/vigil.json,size=32k,keep=2" \
	--output "syslog:tcp://127.0.0.1:$SPORT,alerts" \
	--output "syslog:udp://127.0.0.1:$SPORT,alerts" \
	--output "syslog:unix:$T/rs/log,alerts" \
	--output "file:$T/full/vigil.json,size=0,queue=64k" || {
	not_ok "agent starts with every output"
	finish
}
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
check "tail socket exists with mode 0660" test "$(stat -c %a "$SOCK" 2>/dev/null)" = 660

# ---- two tail clients, one filtered; one stalled client ----
# containers a and b exist before the clients attach, so the filter can
# name a by id prefix (its first events may come before its name is known)
docker create --label "vigil.e2e=$E2E_RUN" --name "$P-a" "$IMAGE" \
	sh -c 'for i in 1 2 3 4 5; do /bin/true; done; sleep 2' >/dev/null
docker create --label "vigil.e2e=$E2E_RUN" --name "$P-b" "$IMAGE" \
	sh -c 'for i in 1 2 3 4 5; do /bin/true; done; sleep 2' >/dev/null
id_a=$(ctr_full_id "$P-a")
id_b=$(ctr_full_id "$P-b")
"$VIGIL" tail --json > "$T/tail-all.json" 2> "$T/tail-all.err" &
TAIL_ALL=$!
"$VIGIL" tail --json --container "${id_a:0:12}" > "$T/tail-a.json" 2> "$T/tail-a.err" &
TAIL_A=$!
# the stalled client: says hello, then never reads
python3 - "$SOCK" > "$T/stalled.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"VIGIL-TAIL 1 format=json\n")
time.sleep(60)
PY
STALLED=$!
sleep 1

docker start "$P-a" "$P-b" >/dev/null
# an alert for the syslog sinks: a metadata-service connect, no network
# (the container stays a moment: its cgroup must still exist when the
# agent resolves it)
ctr_run --name "$P-meta" --network none "$IMAGE" sh -c \
	'sleep 0.5; vg-connect 169.254.169.254 80; sleep 2' >/dev/null
# volume: enough exec events to overrun the stalled client and the tmpfs
ctr_run --name "$P-flood" "$IMAGE" sh -c \
	'i=0; while [ $i -lt 3000 ]; do /bin/true; i=$((i+1)); done' >/dev/null
docker wait "$P-flood" >/dev/null 2>&1
# a marker after the flood: the live client must still get it
ctr_run --name "$P-end" "$IMAGE" sh -c '/bin/true' >/dev/null
docker wait "$P-end" >/dev/null 2>&1

id_end=$(ctr_full_id "$P-end")
check "tail (all) sees container a" wait_json "$T/tail-all.json" "(.container.id // \"\")[0:12] == \"${id_a:0:12}\"" 15
check "tail (all) sees container b" wait_json "$T/tail-all.json" "(.container.id // \"\")[0:12] == \"${id_b:0:12}\"" 15
check "tail --container a sees a" wait_json "$T/tail-a.json" "(.container.id // \"\")[0:12] == \"${id_a:0:12}\"" 15
check "tail --container a never sees b" \
	test -z "$(json_first "$T/tail-a.json" "(.container.id // \"\")[0:12] == \"${id_b:0:12}\"")"
check "tail (all) keeps up past the flood" \
	wait_json "$T/tail-all.json" "(.container.id // \"\")[0:12] == \"${id_end:0:12}\"" 30
check "tail output is valid JSON" all_valid_json "$T/tail-all.json"

scrape() { curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics"; }
metric() { scrape | awk -v m="$1" '$1 == m { print $2 }'; }
for _ in $(seq 50); do [ "$(metric vigil_tail_cut_off_total)" -ge 1 ] 2>/dev/null && break; sleep 0.2; done
check "the stalled tail client is cut off and counted" \
	test "$(metric vigil_tail_cut_off_total)" -ge 1
check "the live tail clients stay connected" kill -0 "$TAIL_ALL"

# ---- metrics ----
scrape > "$T/metrics.txt"
check "metrics: events counted by type" grep -qE '^vigil_events_total\{type="exec"\} [1-9]' "$T/metrics.txt"
check "metrics: ring-buffer drops exported" grep -q '^vigil_ringbuf_drops_total{type="exec"}' "$T/metrics.txt"
check "metrics: per-sink counters" grep -q "^vigil_sink_written_total{sink=\"syslog:tcp://127.0.0.1:$SPORT\"}" "$T/metrics.txt"
check "metrics: agent RSS" grep -qE '^vigil_resident_memory_bytes [1-9]' "$T/metrics.txt"
check "metrics: the process table's evictions" grep -qE '^vigil_proctab_evictions_total [0-9]+$' "$T/metrics.txt"
check "metrics: the sampler's read errors" grep -qE '^vigil_sampler_errors_total [0-9]+$' "$T/metrics.txt"
check "metrics: alerts held back by the rate limit" grep -qE '^vigil_alerts_rate_limited_total [0-9]+$' "$T/metrics.txt"
check "metrics: a count that only grows is a counter" grep -qx '# TYPE vigil_alerts_rate_limited_total counter' "$T/metrics.txt"
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
check "metrics: /other is 404" test "$(code "http://127.0.0.1:$MPORT/other")" = 404
check "metrics: POST is 405" test "$(code -X POST "http://127.0.0.1:$MPORT/metrics")" = 405
raw=$(printf 'GET /metrics HTTP/1.1\n\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MPORT; cat >&3; cat <&3" 2>/dev/null | head -n 1)
check "metrics: a request without CRLF is 400" grep -q '^HTTP/1.1 400' <<<"$raw"
check "metrics: not listening on other addresses" \
	bash -c "! ss -ltnH | awk '{print \$4}' | grep -qE '^(0\\.0\\.0\\.0|\\*|\\[::\\]):$MPORT\$'"

# ---- the full disk ----
check "file sink: the agent survived the full tmpfs" kill -0 "$AGENT_PID"
fd=$(metric "vigil_sink_dropped_total{sink=\"file:$T/full/vigil.json\"}")
check "file sink: loss on the full disk is counted ($fd)" test "${fd:-0}" -gt 0
check "file sink: rotated and compressed" test -s "$T/rot/vigil.json.1.gz" -a -s "$T/rot/vigil.json.2.gz"
check "file sink: retention keeps 2" test ! -e "$T/rot/vigil.json.3.gz"
check "file sink: rotated files are gzip of JSON lines" \
	bash -c "gzip -dc '$T/rot/vigil.json.1.gz' | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'"
# past the fill point too: a record the full disk cut short is never
# glued to the next one
check "file sink: the live file holds JSON lines, none glued to a cut one" \
	python3 tests/e2e/jsonl_unglued.py "$T/full/vigil.json" 20

# ---- rsyslog ----
for _ in $(seq 50); do grep -q metadata_service_access "$T/rs/msgs.json" 2>/dev/null && break; sleep 0.2; done
check "rsyslog received the metadata alert" \
	wait_json "$T/rs/msgs.json" '.rule.name == "metadata_service_access"' 10
if ! grep -q metadata_service_access "$T/rs/msgs.json" 2>/dev/null; then
	sed 's/^/#   rsyslog: /' "$T/rs/out"
	echo "#   metadata alerts in the feed: $(grep -c metadata_service_access "$T/all.json")"
	echo "#   rsyslog running: $(kill -0 "$RS_PID" 2>/dev/null && echo yes || echo no)"
	scrape | grep '^vigil_sink_.*syslog' | sed 's/^/#   /'
fi
check "rsyslog stored valid JSON only" all_valid_json "$T/rs/msgs.json"
check "rsyslog got it over TCP" grep -q '^imtcp .*metadata_service_access' "$T/rs/proto.log"
check "rsyslog got it over UDP" grep -q '^imudp .*metadata_service_access' "$T/rs/proto.log"
check "rsyslog got it over its unix socket" grep -q '^imuxsock .*metadata_service_access' "$T/rs/proto.log"
check "syslog sinks took alerts only" \
	test -z "$(jq -c 'select(.event.kind == "event")' "$T/rs/msgs.json" 2>/dev/null | head -n 1)"

# ---- schema, and the stats record ----
stop_agent
check "the stop line counts the lines the outputs dropped" \
	grep -qE "stopped: .*, [1-9][0-9]* lines dropped by outputs" "$T/feed.json.err"
kill "$TAIL_ALL" "$TAIL_A" "$STALLED" 2>/dev/null
wait "$TAIL_ALL" "$TAIL_A" "$STALLED" 2>/dev/null
tools/check-schema "$T/all.json" "$T/rs/msgs.json" > "$T/schema.out" 2>&1; rc=$?
if [ $rc -eq 2 ]; then
	ok "feed holds to the JSON Schema # SKIP python3-jsonschema not installed"
else
	check "feed holds to the JSON Schema" test $rc -eq 0
	[ $rc -eq 0 ] || head -n 20 "$T/schema.out" | sed 's/^/#   /'
fi
if [ ${#statsopt[@]} -gt 0 ]; then
	check "a stats record reports the file sink's loss" \
		wait_json "$T/all.json" '.event.kind == "metric" and ([.vigil.stats.sinks[] | select(.name | startswith("file:")) | .dropped] | max) > 0' 1
fi

# the live view on a terminal that stops reading (Ctrl-S, a stalled ssh): a
# pipe held open and never read.  The view drops its lines; the drain and
# the JSON feed go on.  Bounded: 3000 execs, 30 s.
mkfifo "$T/view.fifo"
exec 7<> "$T/view.fifo"
"$VIGIL" run --format pretty --events --host --tail-socket none \
	--output "file:$T/viewfeed.json" > "$T/view.fifo" 2> "$T/view.err" &
VIEW_PID=$!
for _ in $(seq 100); do grep -q ready "$T/view.err" && break; sleep 0.1; done
vtok=view-$E2E_RUN
bash -c 'for i in $(seq 3000); do /bin/true "$1"; done' loop "$vtok"
vexecs() { grep -c "\"/bin/true\",\"$vtok\"" "$T/viewfeed.json" 2>/dev/null; }
for _ in $(seq 300); do [ "$(vexecs)" -ge 3000 ] && break; sleep 0.1; done
check "a live view nobody reads does not stop the feed: all 3000 execs written" \
	test "$(vexecs)" -eq 3000
kill -INT "$VIEW_PID"
for _ in $(seq 100); do kill -0 "$VIEW_PID" 2>/dev/null || break; sleep 0.1; done
check "... the agent stops within 10 s all the same" sh -c "! kill -0 $VIEW_PID 2>/dev/null"
kill -9 "$VIEW_PID" 2>/dev/null
wait "$VIEW_PID" 2>/dev/null
check "... and its stop line counts the view lines not shown" \
	grep -qE "[1-9][0-9]* lines not shown" "$T/view.err"
exec 7>&-

# a collector that is down at shutdown: what its sink still held (the last
# stats record at least) is dropped when the agent stops, and the stop
# line, written after, counts it
mkdir -p "$T/down"
start_agent "$T/down.json" --output "syslog:unix:$T/down/log" || not_ok "agent starts (collector down)"
stop_agent
check "the stop line counts what a down collector's sink held at shutdown" \
	grep -qE "stopped: .*, [1-9][0-9]* lines dropped by outputs" "$T/down.json.err"

# a file-size limit (systemd LimitFSIZE=, ulimit -f): the writes past it
# fail (EFBIG) and are counted by their sinks; the signal that comes with
# them (SIGXFSZ) does not kill the agent.  Bounded: 300 execs.
( ulimit -f 16; exec "$VIGIL" run --json --events --host --tail-socket none \
	> "$T/fsize.json" 2> "$T/fsize.err" ) &
FS_PID=$!
for _ in $(seq 100); do grep -q ready "$T/fsize.err" && break; sleep 0.1; done
bash -c 'for i in $(seq 300); do /bin/true; done'
sleep 1
check "a file-size limit does not kill the agent" kill -0 "$FS_PID"
kill -INT "$FS_PID" 2>/dev/null
wait "$FS_PID" 2>/dev/null
check "... and its stop line counts what the limit kept out" \
	grep -qE "stopped: .*, [1-9][0-9]* lines dropped by outputs" "$T/fsize.err"
finish
