#!/bin/bash
# A flood the agent cannot keep up with, while it runs: the agent is held
# to a few percent of one CPU (its own cpu cgroup) while two containers
# make UDP connects (--network none: nothing is sent) as fast as they can.
# The ring buffer never reads empty then; the agent still takes its turns
# between drains, so its periodic stats record keeps coming during the
# flood (the drops it counts included), and once it is let go again
# every connect is a line or a counted drop, exactly.
. "$(dirname "$0")/lib.sh"

N=12000000 # per container: about 6 s at full speed here, bounded
out=$T/feed.json
start_agent "$out" --events --ringbuf-size 1M --stats-interval 1 ||
	{ not_ok "agent ready"; finish; }

# a cpu cgroup of this test's own, 3 ms of CPU per 100 ms
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cg=/sys/fs/cgroup/vg-e2e-flood-$E2E_RUN
	grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control ||
		echo +cpu > /sys/fs/cgroup/cgroup.subtree_control
	mkdir "$cg" && echo "3000 100000" > "$cg/cpu.max"
	home=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$AGENT_PID/cgroup)
else
	cg=/sys/fs/cgroup/cpu/vg-e2e-flood-$E2E_RUN
	mkdir "$cg" && echo 100000 > "$cg/cpu.cfs_period_us" && echo 3000 > "$cg/cpu.cfs_quota_us"
	home=/sys/fs/cgroup/cpu$(sed -n 's/^[0-9]*:[^:]*\bcpu\b[^:]*://p' /proc/$AGENT_PID/cgroup)
fi
release() {
	[ -d "$cg" ] || return 0
	[ -n "$AGENT_PID" ] && echo "$AGENT_PID" > "$home/cgroup.procs" 2>/dev/null
	rmdir "$cg" 2>/dev/null
}
trap 'release; cleanup' EXIT
check "the agent is held to 3% of a CPU" sh -c "echo $AGENT_PID > $cg/cgroup.procs"

t0=$(date +%s.%N)
pids=
for i in 1 2; do
	docker run --rm --label "vigil.e2e=$E2E_RUN" --network none "$IMAGE" \
		vg-connect -u -n $N 127.0.0.1 9 > "$T/flood$i.out" 2>&1 &
	pids="$pids $!"
done
wait $pids
t1=$(date +%s.%N)
check "the flood ran: 2 x $N connects" test "$(cat "$T"/flood*.out | grep -c "^connects: $N OK")" -eq 2
echo "# the flood took $(echo "$t1 - $t0" | bc) s"
release
check "the agent is let go again" grep -q "" "$out"

# the stats records written while the flood ran (their own wall clock)
during() {
	jq -r 'select(.event.dataset == "vigil.stats") | ."@timestamp"' "$out" |
		while read -r ts; do date -d "$ts" +%s.%N; done |
		awk -v a="$t0" -v b="$t1" '$1 > a + 1 && $1 < b {n++} END {print n + 0}'
}
n=$(during)
echo "# $n stats records during the flood"
check "stats records keep coming during the flood" test "$n" -ge 2

stop_agent
found=$(jq -c 'select(.event.action == "connect" and .destination.ip == "127.0.0.1" and .destination.port == 9)' "$out" | wc -l)
dropped=$(jq -s '[.[] | select(.event.dataset == "vigil.stats")] | last | .vigil.stats.ringbuf_drops.connect' "$out")
echo "# $found connect lines written, $dropped connect records dropped in the kernel, of $((2 * N))"
check "the flood outran the agent (drops happened)" test "${dropped:-0}" -gt 0
check "every connect is a line or a counted drop: $found + $dropped = $((2 * N))" \
	test $((found + ${dropped:-0})) -eq $((2 * N))
finish
