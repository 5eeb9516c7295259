#!/bin/bash
# The spine: every hook's record reaches the JSON feed, tagged with the
# container id that `docker inspect` reports (host processes as host).
. "$(dirname "$0")/lib.sh"

# ids of the BPF programs process $1 holds open (from its fds)
progs_of() { cat /proc/"$1"/fdinfo/* 2>/dev/null | sed -n 's/^prog_id:[[:space:]]*//p' | sort -u; }
# none of the program ids given is still loaded
all_gone() {
	for id in "$@"; do bpftool prog show id "$id" >/dev/null 2>&1 && return 1; done
	return 0
}
out=$T/feed.json
# --syscall-results: the connect result and the seccomp-refused mount below
# need the syscall tracepoints (the default mode: test_hooks.sh)
start_agent "$out" --events --syscall-results || { not_ok "agent starts"; finish; }
ok "agent starts and says ready"
ids=$(progs_of "$AGENT_PID")
check "the agent holds its BPF programs" test -n "$ids"

# exec in a container
c=$(ctr_run --network none --name vg-e2e-exec-$E2E_RUN "$IMAGE" sh -c 'sleep 1; cat /etc/passwd >/dev/null; sleep 1')
cid=$(ctr_full_id "$c")
check "exec in container carries docker's (short) id and its cgroup id" \
	wait_json "$out" ".event.action==\"exec\" and .process.args[0]==\"cat\" and .container.id==\"${cid:0:12}\" and .container.runtime==\"docker\" and (.vigil.cgroup_id > 1)" 15

# the fork record of that cat: stamped at the fork (the kernel's start_time
# of the new process), so just before its exec and never after it
ex=$(json_first "$out" ".event.action==\"exec\" and .process.args[0]==\"cat\" and .container.id==\"${cid:0:12}\"")
pid=$(echo "$ex" | jq -r '.process.pid')
fk=$(json_first "$out" ".event.action==\"fork\" and .process.pid==$pid and .container.id==\"${cid:0:12}\"")
check "fork record of the exec'd process is stamped before its exec, within 1 s" \
	python3 -c 'import sys, datetime as d
t = [d.datetime.fromisoformat(x.rstrip("Z")) for x in sys.argv[1:]]
sys.exit(not (0 <= (t[1] - t[0]).total_seconds() < 1))' \
	"$(echo "$fk" | jq -r '.["@timestamp"]')" "$(echo "$ex" | jq -r '.["@timestamp"]')"

# connect to the metadata address with no network: the attempt is traced
c2=$(ctr_run --network none --name vg-e2e-conn-$E2E_RUN "$IMAGE" sh -c 'sleep 1; vg-connect 169.254.169.254 80; sleep 1')
cid2=$(ctr_full_id "$c2")
check "connect to 169.254.169.254:80 seen with its container" \
	wait_json "$out" ".event.action==\"connect\" and .destination.ip==\"169.254.169.254\" and .destination.port==80 and .container.id==\"${cid2:0:12}\" and .process.name==\"vg-connect\"" 15
line=$(json_first "$out" ".event.action==\"connect\" and .container.id==\"${cid2:0:12}\"")
check "connect carries the failure result" \
	test "$(echo "$line" | jq -r '.event.outcome + " " + .vigil.connect.result')" = "failure ENETUNREACH"

# exit: one record per process however its threads leave.  1500 processes
# whose 8 threads leave at once (where only signal->live can be read, two of
# them may both see it at zero and the process is reported twice), then one
# whose main thread leaves 0.5 s before its other thread
c6=$(ctr_run --network none --name vg-e2e-exit-$E2E_RUN "$IMAGE" sh -c \
	'sleep 1; vg-threads -n 1500 -t 8; vg-threads --leader-first')
cid6=$(ctr_full_id "$c6")
timeout 60 docker wait "$c6" >/dev/null
in6=".container.id==\"${cid6:0:12}\" and .process.name==\"vg-threads\""
exits6() { jq -r "select($in6 and .event.action==\"exit\") | .process.pid" "$out"; }
i=0
while [ "$(exits6 | wc -l)" -lt 1503 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
sleep 0.5
exits_once6() { exits6 | exit_counts 1503; }
check "1500 processes whose threads leave together: one exit record each" exits_once6
lf=$(json_first "$out" "$in6 and .event.action==\"exec\" and (.process.args|index(\"--leader-first\"))" | jq -r .process.pid)
lf_fork=$(json_first "$out" "$in6 and .event.action==\"fork\" and .process.parent.pid==${lf:-0}")
lf_pid=$(echo "$lf_fork" | jq -r .process.pid)
lf_exits=$(jq -c "select($in6 and .event.action==\"exit\" and .process.pid==${lf_pid:-0})" "$out")
check "a main thread leaving first does not end the process: one exit, after its last thread" \
	python3 -c 'import sys, json, datetime as d
t = lambda l: d.datetime.fromisoformat(json.loads(l)["@timestamp"].rstrip("Z"))
ex = sys.argv[2].splitlines()
sys.exit(not (len(ex) == 1 and (t(ex[0]) - t(sys.argv[1])).total_seconds() >= 0.45))' \
	"$lf_fork" "$lf_exits"

# a mount attempt (denied: no CAP_SYS_ADMIN in a default container)
c3=$(ctr_run --network none --name vg-e2e-mount-$E2E_RUN "$IMAGE" sh -c 'sleep 1; mount -t tmpfs none /mnt; sleep 1')
cid3=$(ctr_full_id "$c3")
check "mount attempt seen with its container" \
	wait_json "$out" ".event.category==[\"file\"] and .vigil.mount.op==\"mount\" and .vigil.mount.fstype==\"tmpfs\" and .vigil.mount.target==\"/mnt\" and .container.id==\"${cid3:0:12}\"" 15
line=$(json_first "$out" ".event.category==[\"file\"] and .vigil.mount.target==\"/mnt\" and .container.id==\"${cid3:0:12}\"")
check "denied mount carries EPERM" \
	test "$(echo "$line" | jq -r '.event.outcome + " " + .vigil.mount.result_name')" = "failure EPERM"

# OOM kill under -m 32m: the record names the victim and its container
c4=$(ctr_run --network none -m 32m --memory-swap 32m --name vg-e2e-oom-$E2E_RUN "$IMAGE" sh -c 'sleep 1; exec tail /dev/zero')
cid4=$(ctr_full_id "$c4")
check "oom kill seen with the victim's container" \
	wait_json "$out" ".event.action==\"oom_kill\" and .container.id==\"${cid4:0:12}\" and .process.name==\"tail\"" 30

# a host process: not traced without --host; nor one with a mount namespace
# of its own (a systemd service's PrivateTmp=), which the kernel's filter
# cannot tell from a new container's
/bin/true host-filter-marker-$$
unshare -m /bin/true host-filter-ns-marker-$$

# a process whose name carries terminal escapes and invalid UTF-8
c5=$(ctr_run --network none "$IMAGE" sh -c 'cp /bin/busybox "/tmp/$(printf "\033]0;pwn\007\033[2Jx\377")"; sleep 1; "/tmp/$(printf "\033]0;pwn\007\033[2Jx\377")" true')
cid5=$(ctr_full_id "$c5")
check "a hostile process name is escaped in the JSON" \
	wait_json "$out" ".container.id==\"${cid5:0:12}\" and .event.action==\"exec\" and (.process.executable|contains(\"\\u001b]0;pwn\\u0007\") and contains(\"\\ufffd\"))" 10
check "... and no raw escape byte reaches the feed" sh -c "! grep -q \"\$(printf '\\033')\" '$out'"
stop_agent
check "agent exits with a summary line" grep -q "stopped: .* events" "$out.err"
check "every line is valid JSON" all_valid_json "$out"
check "every record holds to the JSON Schema" schema_valid "$out"
check "host processes are filtered out by default" \
	test -z "$(json_first "$out" '.process.args[1]=="host-filter-marker-'$$'"')"
check "... also one in a mount namespace of its own" \
	test -z "$(json_first "$out" '.process.args[1]=="host-filter-ns-marker-'$$'"')"
check "raw events are compact by default: no message, command line or lineage" \
	test -z "$(json_first "$out" '.event.kind=="event" and (has("message") or (.process|has("command_line")) or (.vigil|has("ancestors") or has("mntns")))')"

# with --host, host processes appear as host
start_agent "$T/host.json" --events --host || not_ok "agent starts with --host"
hostagent=$AGENT_PID
/bin/true host-marker-$$
check "host exec tagged as host" \
	wait_json "$T/host.json" ".event.action==\"exec\" and .process.args[1]==\"host-marker-$$\" and (.process.parent.name|length>0) and (has(\"container\")|not)" 10
unshare -m /bin/true host-marker-ns-$$
check "... and so is one in a mount namespace of its own" \
	wait_json "$T/host.json" ".event.action==\"exec\" and .process.args[1]==\"host-marker-ns-$$\" and (has(\"container\")|not)" 10
check "the agent's own child (capability probe) is not reported" \
	test -z "$(json_first "$T/host.json" ".process.pid==$hostagent or .process.parent.pid==$hostagent")"
stop_agent
# --detail full: the raw event has the whole context again
start_agent "$T/full.json" --events --host --detail full || not_ok "agent starts with --detail full"
/bin/true host-marker-full-$$
check "--detail full: host exec with scope, message, command line and namespaces" \
	wait_json "$T/full.json" ".event.action==\"exec\" and .process.args[1]==\"host-marker-full-$$\" and .vigil.scope==\"host\" and .message==\"exec /bin/true [/bin/true host-marker-full-$$]\" and .process.command_line==\"/bin/true host-marker-full-$$\" and (.vigil.mntns > 0) and .event.dataset==\"exec\"" 10
stop_agent
check "every --detail full record holds to the JSON Schema" schema_valid "$T/full.json"
check "nothing stays loaded after a clean exit" all_gone $ids

start_agent "$T/kill.json" || not_ok "agent restarts"
ids=$(progs_of "$AGENT_PID")
kill -KILL "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null; AGENT_PID=
sleep 1
check "nothing stays loaded after SIGKILL" all_gone $ids
# not root: one line naming what is missing, exit 2, no libbpf noise
setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
	"$VIGIL" run --json > "$T/nobody.out" 2> "$T/nobody.err"
rc=$?
check "unprivileged start exits 2" test "$rc" -eq 2
check "... with one line saying what to do" \
	sh -c "test \$(wc -l < '$T/nobody.err') -eq 1 && grep -qi 'cap' '$T/nobody.err'"
# options refused whole, never read in part or bent into range quietly
for bad in "--ringbuf-size 8Mxyz" "--ringbuf-size 4K" "--ringbuf-size 2G" \
	"--ringbuf-size -4096" "--ringbuf-size 0x10000" "--ringbuf-size 17179869184G" \
	"--stats-interval ''" "--stats-interval ' 5'" "--stats-interval -0" "--tail-socket ''" \
	"--output stdout --format pretty" "--output stdout --output -,min=high"; do
	# an option taken would start the sensor: the timeout ends it
	eval "timeout 10 \"\$VIGIL\" run --json --tail-socket none --heartbeat none $bad" \
		> /dev/null 2> "$T/opt.err"
	rc=$?
	check "vigil run $bad exits 2 with its reason" \
		sh -c "test $rc -eq 2 && grep -q -- '${bad%% *}' '$T/opt.err'"
done
# a host process in a mount namespace of its own, dropped by the agent: a
# filtered record, not an event as well
start_agent "$T/acct.json" --stats-interval 1 || not_ok "agent starts for the counts"
for i in $(seq 20); do unshare -m /bin/true; done
check "a stats record counts them as filtered" \
	wait_json "$T/acct.json" '.event.dataset == "vigil.stats" and .vigil.stats.kernel_filtered.exec >= 20' 10
stop_agent
acct=$(jq -s '[.[] | select(.event.dataset == "vigil.stats")] | last | .vigil.stats' "$T/acct.json")
check "... and not as events (no container ran)" \
	test "$(echo "$acct" | jq '.events.exec')" = 0
for cmd in "check --json" "version x"; do
	"$VIGIL" $cmd > /dev/null 2> "$T/opt.err"
	rc=$?
	check "vigil $cmd exits 2: no arguments taken" \
		sh -c "test $rc -eq 2 && grep -q 'takes no arguments' '$T/opt.err'"
done
finish
