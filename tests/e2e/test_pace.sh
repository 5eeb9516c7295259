#!/bin/bash
# The wait between drains follows the record rate: under a steady stream of
# a few thousand records a second (a shell loop of execs, each a fork, an
# exec and an exit), a drain gathers a batch only at the longest wait, so
# the agent wakes about every 15 ms, not every 10: about 130 times in 2 s
# instead of 200.  Every record of the stream still reaches the feed.
. "$(dirname "$0")/lib.sh"

cfg=$T/pace.yaml
printf 'sample_interval: 600s\n' > "$cfg"
out=$T/feed.json
start_agent "$out" --events --host --config "$cfg" --stats-interval 0 ||
	{ not_ok "agent ready"; finish; }

tok=pace-$E2E_RUN
execs() { grep -c "\"/bin/true\",\"$tok\"" "$out"; }
# bounded: at most 20000 execs and 5 s
bash -c 'end=$((SECONDS + 5)); i=0
	while [ $SECONDS -lt $end ] && [ $i -lt 20000 ]; do /bin/true "$1"; i=$((i + 1)); done
	echo $i > "$2"' loop "$tok" "$T/n" &
loop=$!
sleep 1.5
w0=$(sched_ins "$AGENT_PID") r0=$(execs)
sleep 2
w1=$(sched_ins "$AGENT_PID") r1=$(execs)
wait $loop
w=$((w1 - w0)) rate=$(((r1 - r0) / 2))
echo "# $w wakeups in 2 s, $rate execs a second"
check "the stream is steady and moderate (100 to 20,000 execs a second)" \
	test "$rate" -ge 100 -a "$rate" -le 20000
check "the agent drains about every 15 ms: at most 165 wakeups in 2 s (every 10 ms: 200)" \
	test "$w" -le 165
check "... and more than once every 30 ms (a drain is due within 15 ms)" test "$w" -ge 60

n=$(cat "$T/n")
for _ in $(seq 50); do
	[ "$(execs)" -ge "$n" ] && break
	sleep 0.2
done
check "every exec of the stream is reported ($n)" test "$(execs)" -eq "$n"
stop_agent
check "... nothing dropped" \
	grep -q "stopped: .*, 0 dropped in the kernel, 0 lines dropped by outputs" "$out.err"
finish
