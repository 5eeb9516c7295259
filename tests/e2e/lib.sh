# Shared helpers for vigil's end-to-end tests (sourced by each test_*.sh).
# Each test prints "ok - NAME" or "not ok - NAME" per check; tests/e2e/run
# counts them.  Every container a test starts carries the label
# vigil.e2e=<this run> and is removed by cleanup (only this run's, so
# suites running side by side leave each other alone).
set -u
BUILD=${BUILD:-build}
VIGIL=${VIGIL:-$BUILD/vigil}
IMAGE=${IMAGE:-vigil-test:latest}
T=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
E2E_RUN=${T##*.}
AGENT_PID=
FAILS=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }

# check NAME CMD...: ok when CMD succeeds
check() {
	name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

cleanup() {
	stop_agent
	ids=$(docker ps -aq --filter "label=vigil.e2e=$E2E_RUN" 2>/dev/null)
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT

# times every thread of PID has been scheduled in so far (its wakeups)
sched_ins() {
	cat /proc/"$1"/task/*/schedstat | awk '{n += $3} END {print n}'
}

# start_agent OUT ARGS...: run the agent with JSON to OUT, wait until ready
start_agent() {
	out=$1; shift
	"$VIGIL" run --json --tail-socket "$T/tail.sock" "$@" > "$out" 2> "$out.err" &
	AGENT_PID=$!
	i=0
	while [ $i -lt 100 ]; do
		grep -q "ready" "$out.err" 2>/dev/null && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1; i=$((i + 1))
	done
	echo "# agent did not become ready:" >&2
	sed 's/^/#   /' "$out.err" >&2
	return 1
}

stop_agent() {
	[ -n "$AGENT_PID" ] || return 0
	kill -INT "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

# wait_json FILE JQ_FILTER [SECONDS]: wait until a line of FILE matches
wait_json() {
	f=$1 filt=$2 secs=${3:-10}
	i=0
	while [ $i -lt $((secs * 10)) ]; do
		[ -n "$(jq -c "select($filt)" "$f" 2>/dev/null | head -n 1)" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	return 1
}

# first matching line (compact JSON) of FILE for JQ_FILTER
json_first() {
	jq -c "select($2)" "$1" 2>/dev/null | head -n 1
}

# every line of FILE parses as JSON
all_valid_json() {
	python3 -c 'import json,sys
for n,l in enumerate(open(sys.argv[1],"rb")):
    json.loads(l.decode("utf-8"))' "$1"
}

# every line of the files holds to schema/vigil.schema.json
schema_valid() {
	tools/check-schema "$@" > "$T/schema.out" 2>&1 || { sed 's/^/#   /' "$T/schema.out" | head -20; return 1; }
}

# sched_process_exit passes group_dead (which thread ended the process):
# without it two threads leaving together may both be taken for the last,
# and a process may have two exit records (README, Known gaps)
exit_group_dead() {
	grep -qs group_dead /sys/kernel/tracing/events/sched/sched_process_exit/format ||
		grep -qs group_dead /sys/kernel/debug/tracing/events/sched/sched_process_exit/format
}

# exit_counts N: N exit records (their pids on stdin) from N processes, one
# each (where the kernel does not pass group_dead: at least one each, and
# at most 2% more records)
exit_counts() {
	local want=$1 pids all uniq
	pids=$(cat)
	all=$(printf '%s\n' "$pids" | grep -c .) uniq=$(printf '%s\n' "$pids" | grep . | sort -u | wc -l)
	if exit_group_dead; then
		[ "$all" -eq "$want" ] && [ "$uniq" -eq "$want" ]
	else
		echo "# no group_dead here: $((all - uniq)) records past one per process, allowed"
		[ "$uniq" -eq "$want" ] && [ "$all" -le $((want + want / 50)) ]
	fi || { echo "# $all exit records from $uniq processes, $want expected"; return 1; }
}

# run a throwaway test container (labelled for cleanup); prints its id
ctr_run() {
	docker run -d --label "vigil.e2e=$E2E_RUN" "$@"
}

ctr_full_id() {
	docker inspect -f '{{.Id}}' "$1"
}

finish() {
	exit $((FAILS > 0))
}
