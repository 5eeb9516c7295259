#!/bin/bash
# An idle agent sleeps until the next record: no drain timer runs while the
# ring buffer is empty, and the first record after a quiet spell wakes it.
# VIGIL_PARK_MS=600000 (and no sampler or stats timer due) leaves nothing
# but that wakeup to deliver the records below: without it they would wait
# ten minutes, far past the waits here.
. "$(dirname "$0")/lib.sh"

# wakeups (times scheduled in) of every thread of PID over SECS seconds
wakeups() {
	local pid=$1 secs=$2 a b
	a=$(sched_ins "$pid")
	sleep "$secs"
	b=$(sched_ins "$pid")
	echo $((b - a))
}

cfg=$T/idle.yaml
printf 'sample_interval: 600s\n' > "$cfg"
out=$T/feed.json
VIGIL_PARK_MS=600000 start_agent "$out" --events --config "$cfg" --stats-interval 0 ||
	{ not_ok "agent ready"; finish; }
sleep 1
# the quietest of up to three 3 s spells: what a previous test left behind
# (a container still going away, its lookup failing and retried) can wake
# the agent once or twice at the start; a timer would wake it in all three
for _ in 1 2 3; do
	w=$(wakeups "$AGENT_PID" 3)
	echo "# idle agent: $w wakeups in 3 s"
	[ "$w" -le 3 ] && break
done
check "idle, the agent's threads sleep (at most 3 wakeups in 3 s, not 300)" test "$w" -le 3

name=vg-idle-$E2E_RUN
docker run --rm --label "vigil.e2e=$E2E_RUN" --network none --name "$name" "$IMAGE" \
	/bin/vg-exec /bin/true > /dev/null 2>&1
check "the first record after the quiet spell wakes the agent: the container's exec is reported" \
	wait_json "$out" '.event.action == "exec" and (.container.name // "") == "'"$name"'"' 10

sleep 1
# the quietest of up to three 2 s spells, as above: the container going
# away (its exits, the runtime's own work) can wake it at the start
for _ in 1 2 3; do
	w=$(wakeups "$AGENT_PID" 2)
	echo "# idle again: $w wakeups in 2 s"
	[ "$w" -le 3 ] && break
done
check "once the records are drained, the agent sleeps again" test "$w" -le 3

docker run --rm --label "vigil.e2e=$E2E_RUN" --network none "$IMAGE" \
	vg-connect -u -n 5000 127.0.0.1 9 > "$T/burst.out" 2>&1
check "a burst that starts while the agent sleeps: 5000 connects" \
	grep -q "^connects: 5000 OK" "$T/burst.out"
for _ in $(seq 50); do
	[ "$(grep -c '"port":9}' "$out")" -ge 5000 ] && break
	sleep 0.2
done
check "... every one of them is reported" test "$(grep -c '"port":9}' "$out")" -eq 5000

t0=$(date +%s%N)
stop_agent
t1=$(date +%s%N)
check "a sleeping agent stops at once on SIGINT (well under its 600 s sleep)" \
	test $(((t1 - t0) / 1000000)) -lt 5000
check "... with its summary line, nothing dropped" \
	grep -q "stopped: .*, 0 dropped in the kernel, 0 lines dropped by outputs" "$out.err"
finish
