#!/bin/bash
# The heartbeat is one agent's: a second agent on the same /run/vigil (a
# `vigil run` in a terminal beside the sensor) leaves it alone while the
# first runs, its stop does not remove it, and it takes the file over once
# the first one stops.
. "$(dirname "$0")/lib.sh"

health_pid() { "$VIGIL" health 2>&1 | grep -q "(pid $1," ; }

# stop_second: SIGINT, up to 10 s, then SIGKILL
SECOND=
stop_second() {
	[ -n "$SECOND" ] || return 0
	kill -INT "$SECOND" 2> /dev/null
	for _ in $(seq 100); do
		kill -0 "$SECOND" 2> /dev/null || break
		sleep 0.1
	done
	kill -KILL "$SECOND" 2> /dev/null
	wait "$SECOND" 2> /dev/null
	SECOND=
}
trap 'stop_second; cleanup' EXIT

# second_agent ERRFILE [ARGS...]: start an agent beside the first; SECOND its pid
second_agent() {
	local err=$1
	shift
	"$VIGIL" run --json --tail-socket none "$@" > /dev/null 2> "$err" &
	SECOND=$!
	for _ in $(seq 300); do
		grep -q ready "$err" && return 0
		kill -0 "$SECOND" 2> /dev/null || break
		sleep 0.1
	done
	sed 's/^/#   /' "$err" >&2
	stop_second
	return 1
}

start_agent "$T/a.json" || { not_ok "first agent starts"; finish; }
first=$AGENT_PID
check "vigil health names the first agent" health_pid "$first"

second_agent "$T/b.err" || { not_ok "second agent starts"; finish; }
check "the second agent says the heartbeat is another agent's" \
	grep -q "another running agent's heartbeat" "$T/b.err"
check "while both run, the heartbeat stays the first one's" health_pid "$first"
stop_second
check "the second agent's stop leaves the first one's heartbeat" health_pid "$first"

# --heartbeat none: an ad hoc agent stays off it, --heartbeat PATH elsewhere
second_agent "$T/n.err" --heartbeat none || { not_ok "agent with --heartbeat none starts"; finish; }
check "with --heartbeat none, no word of the heartbeat" bash -c "! grep -q heartbeat '$T/n.err'"
stop_second
check "... and the first one's heartbeat is left as it was" health_pid "$first"
second_agent "$T/p.err" --heartbeat "$T/beats/hb" || { not_ok "agent with --heartbeat PATH starts"; finish; }
check "with --heartbeat PATH, vigil health --file PATH names it" \
	bash -c "'$VIGIL' health --file '$T/beats/hb' | grep -q '(pid $SECOND,'"
check "... while the default heartbeat stays the first one's" health_pid "$first"
stop_second
check "... and its stop removes its own file" test ! -e "$T/beats/hb"

second_agent "$T/c.err" || { not_ok "second agent starts again"; finish; }
stop_agent
took=false
for _ in $(seq 50); do
	health_pid "$SECOND" && { took=true; break; }
	sleep 0.1
done
check "once the first stops, the second takes the heartbeat over" $took
stop_second
check "and its own stop removes it" test ! -e /run/vigil/heartbeat
finish
