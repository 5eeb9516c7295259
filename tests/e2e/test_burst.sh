#!/bin/bash
# A burst that outruns the sensor: 20,000 connects from one container while
# the agent is stopped (SIGSTOP: a reader that cannot keep up at all, made
# certain), into a 64 KiB ring buffer that holds about 500 connect records.
# What the ring buffer cannot hold is dropped in the kernel and counted by
# event type; every connect of the burst is either a line of the feed or one
# of those drops, exactly; a stats record says so; and once it runs again
# the same agent goes on reporting, without a restart.  (The unpaced burst
# of `make bench` outruns a running agent; its quick pass in CI checks the
# same accounting.)  The container runs with --network none: its UDP
# connects to 127.0.0.1 send nothing anywhere.
. "$(dirname "$0")/lib.sh"

N=20000
out=$T/feed.json
start_agent "$out" --events --ringbuf-size 65536 --stats-interval 1 ||
	{ not_ok "agent ready with a 64 KiB ring buffer"; finish; }
pid=$AGENT_PID

kill -STOP "$pid"
docker run --rm --label "vigil.e2e=$E2E_RUN" --network none "$IMAGE" \
	vg-connect -u -n $N 127.0.0.1 9 > "$T/burst.out" 2>&1
kill -CONT "$pid"
check "the burst ran: $N connects" grep -q "^connects: $N OK" "$T/burst.out"

# after the burst: one more connect, to another port, from a new container
docker run --rm --label "vigil.e2e=$E2E_RUN" --network none "$IMAGE" \
	vg-connect -u 127.0.0.1 10 > /dev/null 2>&1
check "after the burst the same agent reports the next connect" \
	wait_json "$out" '.event.action == "connect" and .destination.port == 10' 10
check "... it never stopped" test "$AGENT_PID" = "$pid" -a -d "/proc/$pid"
check "a periodic stats record counts connect records dropped in the kernel" \
	wait_json "$out" '.event.dataset == "vigil.stats" and .vigil.stats.ringbuf_drops.connect > 0' 5

stop_agent
check "the agent stopped on SIGINT with its summary line" grep -q "stopped: .* events" "$out.err"
found=$(jq -c 'select(.event.action == "connect" and .destination.ip == "127.0.0.1" and .destination.port == 9)' "$out" | wc -l)
dropped=$(jq -s '[.[] | select(.event.dataset == "vigil.stats")] | last | .vigil.stats.ringbuf_drops.connect' "$out")
echo "# $found connect lines written, $dropped connect records dropped in the kernel, of $N"
check "the burst outran the ring buffer (drops happened)" test "${dropped:-0}" -gt 0 -a "$found" -lt $N
check "every connect is a line or a counted drop: $found + $dropped = $N" \
	test $((found + ${dropped:-0})) -eq $N
kdrops=$(sed -nE 's/.*stopped: .*, ([0-9]+) dropped in the kernel.*/\1/p' "$out.err")
check "the stop line counts them too" test "${kdrops:-0}" -ge "${dropped:-1}"
check "every line is valid JSON" all_valid_json "$out"
finish
