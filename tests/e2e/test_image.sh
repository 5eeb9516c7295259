#!/bin/bash
# The sensor as a container: build the FROM scratch image with `docker
# build`, run it with deploy/compose.yaml's settings (docker compose or
# docker-compose; else the `docker run` flags tools/compose-docker-run
# derives from the same file), start a container whose main process (not a
# shell) spawns a shell, and check that the sensor's stdout carries the
# alert with that container's name, that `vigil tail` through `docker exec`
# shows it too, and that after attach the sensor holds exactly the
# documented capabilities (README.md (Running vigil as a container)) with no_new_privs.
. "$(dirname "$0")/lib.sh"
cd "$(dirname "$0")/../.."

TAG=vigil-e2e:latest
NAME=vigil-e2e-sensor-$$
SPAWN=vigil-e2e-spawn-$$
PROJECT=vigile2e$$
RUN=$T/run
mkdir -p "$RUN"
export VIGIL_IMAGE=$TAG VIGIL_CONTAINER=$NAME VIGIL_RUN_DIR=$RUN

if [ -n "${VIGIL_E2E_NO_COMPOSE:-}" ]; then # exercise the docker run translation
	COMPOSE=
elif docker compose version >/dev/null 2>&1; then
	COMPOSE="docker compose"
elif command -v docker-compose >/dev/null; then
	COMPOSE=docker-compose
else
	COMPOSE=
fi
sensor_down() {
	if [ -n "$COMPOSE" ]; then
		$COMPOSE -p "$PROJECT" -f deploy/compose.yaml --profile docker20 down -t 5 \
			>/dev/null 2>&1
	fi
	docker rm -f "$NAME" >/dev/null 2>&1
}
trap 'sensor_down; cleanup' EXIT

# ---- the image
if out=$(tools/build-image "$TAG" 2>&1); then
	ok "image: docker build of the FROM scratch image"
	echo "# $(printf '%s\n' "$out" | tail -n 1)"
else
	not_ok "image: docker build of the FROM scratch image"
	printf '%s\n' "$out" | sed 's/^/#   /'
	finish
fi
layer_files() {
	docker save "$TAG" | tar -xO --wildcards '*/layer.tar' | tar -t | grep -v '/$' | sort
}
check "image: holds the static binary and nothing else (no shell)" \
	test "$(layer_files)" = "usr/local/sbin/vigil"
check "image: its health check is the exec form of vigil health" \
	test "$(docker image inspect -f '{{json .Config.Healthcheck.Test}}' "$TAG")" = \
	'["CMD","/usr/local/sbin/vigil","health"]'

# ---- the sensor, with the compose file's settings
major=$(docker version -f '{{.Server.Version}}' 2>/dev/null | cut -d. -f1)
svc=vigil
[ "${major:-0}" -lt 23 ] && svc=vigil-docker20 # no BPF/PERFMON names before Docker 23
echo "# engine ${major:-?}: service $svc, via ${COMPOSE:-tools/compose-docker-run}"
if [ -n "$COMPOSE" ]; then
	$COMPOSE -p "$PROJECT" -f deploy/compose.yaml --profile docker20 up -d "$svc" \
		> "$T/compose.out" 2>&1
else
	mapfile -t args < <(tools/compose-docker-run deploy/compose.yaml "$svc")
	docker run -d "${args[@]}" > "$T/compose.out" 2>&1
fi || { sed 's/^/#   /' "$T/compose.out"; not_ok "image: sensor started"; finish; }

# one follower for the sensor's whole life: stdout and stderr apart
docker logs -f "$NAME" > "$T/out" 2> "$T/err" &
LOGS_PID=$!
trap 'kill $LOGS_PID 2>/dev/null; sensor_down; cleanup' EXIT
ready=false
for _ in $(seq 1 100); do
	grep -q "ready" "$T/err" && { ready=true; break; }
	[ "$(docker inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ] || break
	sleep 0.2
done
if $ready; then ok "image: sensor ready under the compose settings"; else
	not_ok "image: sensor ready under the compose settings"
	sed 's/^/#   /' "$T/err" | head -n 20
	finish
fi

# ---- privileges after attach
pid=$(docker inspect -f '{{.State.Pid}}' "$NAME")
capf() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/status"; }
want=$((1 << 19 | 1 << 2)) # CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH: the set after attach
kv=$(uname -r | awk -F. '{ print $1 * 1000 + $2 }')
if [ "$kv" -lt 6005 ] && [ "$(cat /proc/sys/kernel/unprivileged_bpf_disabled)" != 0 ]; then
	# before 6.5 every bpf() command wants the BPF capability (README)
	if [ "$svc" = vigil ]; then want=$((want | 1 << 39)); else want=$((want | 1 << 21)); fi
fi
eff=$((16#$(capf CapEff)))
check "image: CapEff after attach is the documented set ($(printf '%x' $want))" \
	test "$eff" -eq "$want"
check "image: permitted equals effective, no inheritable or ambient" \
	test "$((16#$(capf CapPrm)))" -eq "$eff" -a "$((16#$(capf CapInh)))" -eq 0 \
	-a "$((16#$(capf CapAmb)))" -eq 0
added=0
for c in $(tools/compose-docker-run deploy/compose.yaml "$svc" | sed -n '/^--cap-add$/{n;p}'); do
	case $c in
	BPF) added=$((added | 1 << 39)) ;; PERFMON) added=$((added | 1 << 38)) ;;
	NET_ADMIN) added=$((added | 1 << 12)) ;; SYS_PTRACE) added=$((added | 1 << 19)) ;;
	SYS_ADMIN) added=$((added | 1 << 21)) ;; DAC_READ_SEARCH) added=$((added | 1 << 2)) ;;
	esac
done
check "image: bounding set within the compose cap_add list" \
	test $((16#$(capf CapBnd) & ~added)) -eq 0
check "image: no_new_privs set" test "$(capf NoNewPrivs)" = 1
check "image: the start line says what was dropped" \
	grep -q "capabilities CAP_DAC_READ_SEARCH,CAP_SYS_PTRACE (dropped .*no_new_privs" "$T/err"
check "image: root filesystem is read-only" \
	test "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$NAME")" = true

# ---- started without a needed capability or host view: one line, exit 2
refused() { # EXPECT DOCKER_RUN_ARGS...: exit 2 and one stderr line holding EXPECT
	want=$1; shift
	id=$(docker run -d --label "vigil.e2e=$E2E_RUN" --network none --read-only --cap-drop ALL "$@" \
		"$TAG" run --json) || return 1
	rc=$(timeout 20 docker wait "$id") # a sensor that starts anyway is stopped here
	docker logs "$id" > /dev/null 2> "$T/refused"
	docker rm -f "$id" > /dev/null 2>&1
	[ "$rc" = 2 ] && [ "$(wc -l < "$T/refused")" -eq 1 ] && grep -qF -- "$want" "$T/refused" ||
		{ echo "#   exit ${rc:-none in 20 s}: $(head -c 300 "$T/refused")"; return 1; }
}
bpfcaps="--cap-add SYS_ADMIN"
[ "$svc" = vigil ] && bpfcaps="--cap-add BPF --cap-add PERFMON --cap-add NET_ADMIN"
views="--pid host -v /sys/fs/cgroup:/sys/fs/cgroup:ro"
check "image: without SYS_PTRACE: names it and the flag, exit 2" \
	refused "missing CAP_SYS_PTRACE: add \`--cap-add SYS_PTRACE\`" $bpfcaps $views
check "image: without the BPF capabilities: names the missing one, exit 2" \
	refused "missing CAP_" --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH $views
check "image: without the host PID namespace: names pid: host, exit 2" \
	refused "\`pid: host\`" $bpfcaps --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH -v /sys/fs/cgroup:/sys/fs/cgroup:ro
check "image: without the host cgroupfs: names the volume, exit 2" \
	refused "\`-v /sys/fs/cgroup:/sys/fs/cgroup:ro\`" $bpfcaps --cap-add SYS_PTRACE \
	--cap-add DAC_READ_SEARCH --pid host

# ---- a service container whose main process starts a shell
if ! docker run --rm --network none "$IMAGE" test -x /bin/vg-spawn 2>/dev/null; then
	tools/build-test-image "$BUILD" "$IMAGE" >/dev/null
fi
ctr_run --name "$SPAWN" --network none "$IMAGE" /bin/vg-spawn -d 3 -w 20 /bin/sh -c 'id' \
	>/dev/null
alert_f=".event.kind == \"alert\" and .rule.name == \"shell_in_service_container\" and .container.name == \"$SPAWN\""
seen=false
for _ in $(seq 1 100); do
	# cheap test first: the feed may carry every event of the host
	grep -F "\"$SPAWN\"" "$T/out" | grep -q '"alert"' &&
		[ -n "$(grep -F "\"$SPAWN\"" "$T/out" | jq -c "select($alert_f)" 2>/dev/null)" ] &&
		{ seen=true; break; }
	sleep 0.2
done
check "image: sensor stdout carries the shell alert with the container's name" $seen
$seen || grep -F "$SPAWN" "$T/out" | jq -c '{k: .event.kind, a: .event.action}' 2>/dev/null |
	head -n 5 | sed 's/^/#   /'
check "image: every stdout line is JSON" all_valid_json "$T/out"

# ---- vigil tail inside the sensor container
timeout 6 docker exec "$NAME" vigil tail --json --since 5m --container "$SPAWN" \
	> "$T/tail" 2> "$T/tail.err"
check "image: vigil tail through docker exec shows the alert" \
	test -n "$(json_first "$T/tail" "$alert_f")"
[ -s "$T/tail.err" ] && sed 's/^/#   tail: /' "$T/tail.err" | head -n 3

# ---- health, and nothing raised for the sensor's own activity
quiet() { "$@" > /dev/null 2>&1; }
check "image: vigil health through docker exec" quiet docker exec "$NAME" vigil health
health_status() { docker inspect -f '{{.State.Health.Status}}' "$NAME" 2>/dev/null; }
for _ in $(seq 1 50); do
	[ "$(health_status)" = healthy ] && break
	sleep 0.5
done
check "image: Docker reports the container healthy (exec-form health check)" \
	test "$(health_status)" = healthy
check "image: no alert about the sensor's own container" \
	test -z "$(grep -F "\"$NAME\"" "$T/out" | jq -c "select(.event.kind == \"alert\" and .container.name? == \"$NAME\")" 2>/dev/null)"
finish
