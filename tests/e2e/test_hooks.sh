#!/bin/bash
# Which hooks each mode attaches, and what the default mode (no syscall
# tracepoint) still sees: mounts at the capability check (64-bit, 32-bit,
# the new API) with their target path and outcome "unknown", connects from
# the cgroup hooks with outcome "unknown".  --syscall-results attaches the
# syscall tracepoints and brings the results back.
. "$(dirname "$0")/lib.sh"

# syscall-category tracepoints that process $1 has attached (bpftool's view)
sys_tps_of() {
	bpftool perf show -j 2>/dev/null |
		jq -r --argjson p "$1" '.[] | select(.pid==$p and (.tracepoint // "" | test("^sys_"))) | .tracepoint'
}
# raw tracepoints of the raw_syscalls category (sys_enter/sys_exit)
raw_sys_of() {
	bpftool perf show -j 2>/dev/null |
		jq -r --argjson p "$1" '.[] | select(.pid==$p and .fd_type=="raw_tracepoint" and ((.tracepoint // "") == "sys_enter" or (.tracepoint // "") == "sys_exit")) | .tracepoint'
}

# names of the BPF programs process $1 holds open (from its fds)
prog_names_of() {
	cat /proc/"$1"/fdinfo/* 2>/dev/null | sed -n 's/^prog_id:[[:space:]]*//p' | sort -u |
		while read -r id; do bpftool prog show id "$id" -j | jq -r .name; done
}
has_progs() { # pid name...: every name is among its programs
	local names p=$1
	shift
	names=$(prog_names_of "$p")
	for n in "$@"; do printf '%s\n' "$names" | grep -qx "$n" || return 1; done
}
lacks_progs() { # pid name...: none of the names is among its programs
	local names p=$1
	shift
	names=$(prog_names_of "$p")
	for n in "$@"; do printf '%s\n' "$names" | grep -qx "$n" && return 1; done
	return 0
}
ut_known=$("$BUILD/vigil" check 2>/dev/null | grep -c '^  untrusted task loads *ok')
# vigil check judges each row on its own: without SYS_PTRACE and outside
# the host's PID namespace, both rows say so, and the verdict is vigil run's
unshare -pf --mount-proc setpriv --bounding-set -sys_ptrace "$BUILD/vigil" check >"$T/check.txt" 2>&1
check "vigil check: the capabilities row shows SYS_PTRACE missing" \
	grep -qE '^  capabilities +no .*-SYS_PTRACE' "$T/check.txt"
check "... the host views row is judged too" \
	grep -qE '^  host views +no +not in the host PID namespace' "$T/check.txt"
check "... and the verdict is vigil run's first refusal" \
	grep -q '^cannot run: missing CAP_SYS_PTRACE' "$T/check.txt"
# every thread of process $1 runs at nice $2 (field 19 of stat)
all_nice() { for t in /proc/"$1"/task/*/stat; do [ "$(awk '{print $19}' "$t")" = "$2" ] || return 1; done; }

# raw events carry the short container id, alerts the full one: match the prefix
# the triggers come from this build, whatever the shared image holds
bins="$PWD/$BUILD/bin"
# mount needs CAP_SYS_ADMIN, and Docker's seccomp profile refuses it without
mntopts="--network none --cap-add SYS_ADMIN --security-opt seccomp=unconfined -v $bins:/vgbin:ro"

out=$T/default.json
start_agent "$out" --events || { not_ok "agent starts"; finish; }
check "the ready line says no syscall tracepoint is attached" \
	grep -q "mount at the capability check, no syscall tracepoint" "$out.err"
check "bpftool: no syscall tracepoint attached by the agent" test -z "$(sys_tps_of "$AGENT_PID")"
check "bpftool: no raw_syscalls tracepoint attached by the agent" test -z "$(raw_sys_of "$AGENT_PID")"
check "bpftool: the capability hook is attached" \
	sh -c "bpftool prog show -j | jq -e '.[] | select(.name==\"vg_cap_btf\" or .name==\"vg_cap_ut\" or .name==\"vg_cap_tp\")' >/dev/null"
check "priority_boost 4 by default: every agent thread at nice -4, and the ready line says so" \
	sh -c "$(declare -f all_nice); all_nice $AGENT_PID -4 && grep -q 'nice -4' '$out.err'"
if [ "$ut_known" = 1 ]; then
	check "untrusted task loads known: the agent holds the *_ut programs (fork, exit trusted; exec with its resolved path)" \
		has_progs "$AGENT_PID" vg_exec_ut vg_fork_btf vg_exit_btf vg_oom_ut vg_connect4_ut vg_connect6_ut vg_cap_ut
	check "... and not their trusted-pointer or probe-read twins" \
		lacks_progs "$AGENT_PID" vg_exec_btf vg_oom_btf vg_connect4 vg_connect6 vg_cap_btf
else
	ok "# skip: this kernel has no bpf_rdonly_cast (the *_ut programs)"
fi

c=$(ctr_run $mntopts --name vg-e2e-hk-mnt-$E2E_RUN "$IMAGE" sh -c \
	'sleep 1; /vgbin/vg-mount /mnt/classic; /vgbin/vg-mount --new-api /mnt/newapi; /vgbin/vg-mount --tree-attr /mnt/treeattr; /vgbin/vg-mount --ia32 /mnt/compat; sleep 1')
cid=$(ctr_full_id "$c")
if [ "$ut_known" = 1 ]; then
	check "the capability hook's register address, checked against bpf_task_pt_regs, was right" \
		sh -c "bpftool map dump name vigil_bp.bss | grep -q '\"vg_regs_guess\": 1'"
	check "exec of sh (a symlink to busybox in the image) carries the resolved path" \
		wait_json "$out" ".event.action==\"exec\" and .process.executable==\"/bin/sh\" and .vigil.exec.exe==\"/bin/busybox\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 15
fi
check "mount(2) seen with its target path, outcome unknown" \
	wait_json "$out" ".vigil.mount.op==\"mount\" and .vigil.mount.target==\"/mnt/classic\" and .vigil.mount.fstype==\"tmpfs\" and .vigil.mount.source==\"vg-tmpfs\" and .event.outcome==\"unknown\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 15
check "... once, although mount checks the capability twice" \
	test "$(jq -c "select(.event.kind==\"event\" and .vigil.mount.op==\"mount\" and .vigil.mount.target==\"/mnt/classic\")" "$out" | wc -l)" -eq 1
check "umount2 seen with its target" \
	wait_json "$out" ".vigil.mount.op==\"umount\" and .vigil.mount.target==\"/mnt/classic\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 5
check "new API: fsopen seen with its fstype" \
	wait_json "$out" ".vigil.mount.op==\"fsopen\" and .vigil.mount.fstype==\"tmpfs\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 5
check "new API: move_mount seen with its target path" \
	wait_json "$out" ".vigil.mount.op==\"move_mount\" and .vigil.mount.target==\"/mnt/newapi\" and .event.outcome==\"unknown\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 5
# open_tree_attr(2) is Linux 6.15
has_tree_attr=0
grep -q ' __x64_sys_open_tree_attr$' /proc/kallsyms && has_tree_attr=1
if [ $has_tree_attr = 1 ]; then
	check "open_tree_attr seen with the path it clones, outcome unknown" \
		wait_json "$out" ".vigil.mount.op==\"open_tree_attr\" and .vigil.mount.source==\"/etc\" and .event.outcome==\"unknown\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 5
	check "... and the clone's move_mount onto its target" \
		wait_json "$out" ".vigil.mount.op==\"move_mount\" and .vigil.mount.target==\"/mnt/treeattr\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 5
else
	ok "# skip: this kernel has no open_tree_attr(2) (6.15)"
	ok "# skip: this kernel has no open_tree_attr(2) (6.15)"
fi
check "32-bit (int \$0x80) mount seen with its target path" \
	wait_json "$out" ".vigil.mount.op==\"mount\" and .vigil.mount.target==\"/mnt/compat\" and .vigil.mount.source==\"vg-tmpfs32\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 5
check "32-bit umount2 seen" \
	wait_json "$out" ".vigil.mount.op==\"umount\" and .vigil.mount.target==\"/mnt/compat\" and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 5
check "the runtime's set-up mounts are recorded ..." \
	wait_json "$out" ".vigil.mount.op==\"mount\" and (.process.name|startswith(\"runc\")) and (.container.id // \"\" | startswith(\"${cid:0:12}\"))" 5

# without CAP_SYS_ADMIN the capability check fails: the attempt and EPERM
c2=$(ctr_run --network none --security-opt seccomp=unconfined -v "$bins:/vgbin:ro" \
	--name vg-e2e-hk-eperm-$E2E_RUN "$IMAGE" sh -c 'sleep 1; /vgbin/vg-mount /mnt/denied; sleep 1')
cid2=$(ctr_full_id "$c2")
check "mount refused for lack of CAP_SYS_ADMIN: seen, failure EPERM" \
	wait_json "$out" ".vigil.mount.target==\"/mnt/denied\" and .event.outcome==\"failure\" and .vigil.mount.result_name==\"EPERM\" and (.container.id // \"\" | startswith(\"${cid2:0:12}\"))" 15

# the same buffers rewritten between two calls are two calls, and a name the
# kernel had not read yet (a page never touched) is said to be unreadable
c3=$(ctr_run $mntopts --name vg-e2e-hk-reuse-$E2E_RUN "$IMAGE" sh -c \
	'sleep 1; /vgbin/vg-mount --reuse /mnt/reuse; /vgbin/vg-mount --cold /mnt/cold; sleep 1')
cid3=$(ctr_full_id "$c3")
check "a mount with an unknown fstype is seen (source vg-first) ..." \
	wait_json "$out" ".vigil.mount.source==\"vg-first\" and .vigil.mount.target==\"/mnt/reuse\" and (.container.id // \"\" | startswith(\"${cid3:0:12}\"))" 15
check "... and the next call through the same rewritten buffers too (vg-second, tmpfs)" \
	wait_json "$out" ".vigil.mount.source==\"vg-second\" and .vigil.mount.fstype==\"tmpfs\" and (.container.id // \"\" | startswith(\"${cid3:0:12}\"))" 5
check "fsopen of a name in a page never touched: seen, its arguments unreadable" \
	wait_json "$out" ".vigil.mount.op==\"fsopen\" and .vigil.mount.args_unread==true and (.container.id // \"\" | startswith(\"${cid3:0:12}\"))" 5

# connect: the cgroup hook alone, no result
c3=$(ctr_run --network none --name vg-e2e-hk-conn-$E2E_RUN "$IMAGE" sh -c 'sleep 1; vg-connect 169.254.169.254 80; sleep 1')
cid3=$(ctr_full_id "$c3")
check "connect seen from the cgroup hook, outcome unknown" \
	wait_json "$out" ".event.action==\"connect\" and .destination.ip==\"169.254.169.254\" and .vigil.connect.source==\"cgroup\" and .event.outcome==\"unknown\" and (.container.id // \"\" | startswith(\"${cid3:0:12}\"))" 15
stop_agent
check "every record holds to the JSON Schema" schema_valid "$out"

# rules in the default mode: the mount alert, the runtime's mounts raise none
start_agent "$T/alerts.json" || { not_ok "agent starts for alerts"; finish; }
c4=$(ctr_run $mntopts --name vg-e2e-hk-rule-$E2E_RUN "$IMAGE" sh -c 'sleep 1; /vgbin/vg-mount /mnt/rule; sleep 1')
cid4=$(ctr_full_id "$c4")
check "mount_in_container fires in the default mode" \
	wait_json "$T/alerts.json" ".rule.name==\"mount_in_container\" and (.container.id // \"\" | startswith(\"${cid4:0:12}\")) and (.vigil.alert.step|contains(\"/mnt/rule\"))" 15
stop_agent
check "... and not for the runtime's set-up mounts" \
	test -z "$(jq -c 'select(.rule.name=="mount_in_container" and (.process.name|startswith("runc")))' "$T/alerts.json")"

# --syscall-results: the tracepoints, the results, seccomp-refused attempts
out=$T/results.json
start_agent "$out" --events --syscall-results || { not_ok "agent starts with --syscall-results"; finish; }
check "the ready line names the syscall tracepoints" grep -q "syscall results: [1-9][0-9]* syscall tracepoints" "$out.err"
tps_has() { sys_tps_of "$AGENT_PID" | grep -qx sys_enter_connect && sys_tps_of "$AGENT_PID" | grep -qx sys_exit_mount; }
check "bpftool: connect and mount syscall tracepoints attached" tps_has
c5=$(ctr_run --network none -v "$bins:/vgbin:ro" --name vg-e2e-hk-sr-$E2E_RUN "$IMAGE" sh -c \
	'sleep 1; vg-connect 169.254.169.254 80; /vgbin/vg-mount /mnt/seccomp; /vgbin/vg-connect --intr 127.0.0.1 1; sleep 1')
cid5=$(ctr_full_id "$c5")
check "connect carries its result" \
	wait_json "$out" ".event.action==\"connect\" and (.container.id // \"\" | startswith(\"${cid5:0:12}\")) and .event.outcome==\"failure\" and .vigil.connect.result==\"ENETUNREACH\"" 15
# a connect a signal interrupts: the kernel's -ERESTARTSYS at the exit is
# no result (the caller sees EINTR, or the call is made again)
in5=".event.action==\"connect\" and (.container.id // \"\" | startswith(\"${cid5:0:12}\")) and .destination.ip==\"127.0.0.1\""
intr_unknown() {
	wait_json "$out" "$in5 and .event.outcome==\"unknown\" and .vigil.connect.result==\"unknown\"" 15 &&
		test -z "$(json_first "$out" "$in5 and .event.outcome==\"failure\"")" &&
		docker logs "$c5" 2>&1 | grep -q "^connect: EINTR"
}
check "a connect interrupted by a signal has no result, not a failure" intr_unknown
check "a mount refused by seccomp is seen, failure EPERM" \
	wait_json "$out" ".vigil.mount.target==\"/mnt/seccomp\" and .event.outcome==\"failure\" and .vigil.mount.result_name==\"EPERM\" and (.container.id // \"\" | startswith(\"${cid5:0:12}\"))" 10
c6=$(ctr_run $mntopts --name vg-e2e-hk-sr2-$E2E_RUN "$IMAGE" sh -c \
	'sleep 1; /vgbin/vg-mount /mnt/native; /vgbin/vg-mount --tree-attr /mnt/treeattr6; /vgbin/vg-mount --ia32 /mnt/compat32; sleep 1')
cid6=$(ctr_full_id "$c6")
native_once() {
	wait_json "$out" ".vigil.mount.op==\"mount\" and .vigil.mount.target==\"/mnt/native\" and .event.outcome==\"success\" and (.container.id // \"\" | startswith(\"${cid6:0:12}\"))" 15 &&
		test "$(jq -c 'select(.event.kind=="event" and .vigil.mount.op=="mount" and .vigil.mount.target=="/mnt/native")' "$out" | wc -l)" -eq 1
}
check "a native mount carries success, and is recorded once (no double record)" native_once
if [ $has_tree_attr = 1 ]; then
	check "open_tree_attr through its tracepoints, with its result (the clone's fd)" \
		wait_json "$out" ".vigil.mount.op==\"open_tree_attr\" and .vigil.mount.source==\"/etc\" and .event.outcome==\"success\" and (.container.id // \"\" | startswith(\"${cid6:0:12}\"))" 10
else
	ok "# skip: this kernel has no open_tree_attr(2) (6.15)"
fi
check "a 32-bit mount is still seen (capability hook, ia32 only)" \
	wait_json "$out" ".vigil.mount.op==\"mount\" and .vigil.mount.target==\"/mnt/compat32\" and .event.outcome==\"unknown\" and (.container.id // \"\" | startswith(\"${cid6:0:12}\"))" 10
stop_agent

# more connects in flight than conn_pend has room for (4 here, shared with
# every other connect on the host): those beyond it are reported at once
# without their result, and none in flight is pushed out and lost, so a
# process holding blocked connects cannot hide the next one
# pend_run ROOM NAME HOLD-ARGS...: an agent with results and a conn_pend of
# ROOM entries, then a container (NAME) running vg-connect HOLD-ARGS to the
# metadata address; sets out, ctr and cid
pend_run() {
	local room=$1 name=$2
	shift 2
	out=$T/$name.json
	VIGIL_CONN_PEND_MAX=$room start_agent "$out" --events --syscall-results ||
		not_ok "agent starts with a $room-entry conn_pend"
	ctr=$(ctr_run --network none -v "$bins:/vgbin:ro" --name vg-e2e-hk-$name-$E2E_RUN "$IMAGE" \
		sh -c "sleep 1; /vgbin/vg-connect $* 169.254.169.254 80; sleep 1")
	cid=$(ctr_full_id "$ctr")
}
pend_run 4 pf --hold 12
c7=$ctr cid7=$cid
in7=".event.action==\"connect\" and (.container.id // \"\" | startswith(\"${cid7:0:12}\"))"
check "full conn_pend: the metadata connect made while it is full is reported, without result" \
	wait_json "$out" "$in7 and .destination.ip==\"169.254.169.254\" and .event.outcome==\"unknown\" and .vigil.connect.source==\"cgroup\"" 15
# 13 records to the listener (the one in its queue, 12 held); those held
# with room (at most 4) carry their timeout as result
held_all() {
	local n=0 r=0 i=0
	while [ $i -lt 60 ]; do
		n=$(jq -c "select($in7 and .destination.ip==\"127.0.0.1\")" "$out" | wc -l)
		r=$(jq -c "select($in7 and .vigil.connect.result==\"EINPROGRESS\")" "$out" | wc -l)
		[ "$n" -ge 13 ] && [ "$r" -ge 1 ] && break
		sleep 0.2; i=$((i + 1))
	done
	sleep 0.5
	n=$(jq -c "select($in7 and .destination.ip==\"127.0.0.1\")" "$out" | wc -l)
	r=$(jq -c "select($in7 and .vigil.connect.result==\"EINPROGRESS\")" "$out" | wc -l)
	[ "$n" -eq 13 ] && [ "$r" -ge 1 ] && [ "$r" -le 4 ] && return 0
	echo "# $n records, $r with EINPROGRESS:"
	jq -c "select(.event.action==\"connect\") | [.destination, .event.outcome, .vigil.connect.result]" "$out" | sed 's/^/# /'
	return 1
}
check "... and all 12 held connects are recorded, those that had room with their result" held_all
held_before() { docker logs "$c7" 2>&1 | grep -q "^held: 12 port"; }
check "the held connects were waiting when the metadata connect was made" held_before
stop_agent

# an AF_UNIX connect never reaches the cgroup hooks and takes no room in
# conn_pend: with room for 4 connects, a process holding 4 blocked unix
# connects still gets its metadata connect's result
pend_run 4 pu --hold-unix 4
c8=$ctr cid8=$cid
check "a held AF_UNIX connect takes no room: the metadata connect carries its result" \
	wait_json "$out" ".event.action==\"connect\" and (.container.id // \"\" | startswith(\"${cid8:0:12}\")) and .destination.ip==\"169.254.169.254\" and .vigil.connect.source==\"syscall\" and .vigil.connect.result==\"ENETUNREACH\"" 15
unix_held() { docker logs "$c8" 2>&1 | grep -q "^held: 4 unix"; }
check "... while the unix connect waited" unix_held
stop_agent

# no capability hook (older kernels): the default mode falls back to the mount
# tracepoints, says so, and still sees mounts; connect stays tracepoint-free
out=$T/fallback.json
VIGIL_NO_CAP_HOOK=1 start_agent "$out" --events || not_ok "agent starts without the capability hook"
check "fallback: the ready line says mount is on syscall tracepoints, and why" \
	grep -q "mount on [1-9][0-9]* syscall tracepoints (every syscall on the host pays for them): capability hook turned off" "$out.err"
check "fallback: ... and that 32-bit mounts go unseen (syscall tracepoints skip compat calls)" \
	grep -q "capability hook turned off (VIGIL_NO_CAP_HOOK=1); 32-bit mounts unseen" "$out.err"
fb_tps() { sys_tps_of "$AGENT_PID" | grep -qx sys_enter_mount && ! sys_tps_of "$AGENT_PID" | grep -q connect; }
check "fallback: bpftool shows the mount tracepoints, no connect tracepoint" fb_tps
c7=$(ctr_run $mntopts --name vg-e2e-hk-fb-$E2E_RUN "$IMAGE" sh -c 'sleep 1; /vgbin/vg-mount /mnt/fallback; sleep 1')
cid7=$(ctr_full_id "$c7")
check "fallback: a mount is seen with its result" \
	wait_json "$out" ".vigil.mount.op==\"mount\" and .vigil.mount.target==\"/mnt/fallback\" and .event.outcome==\"success\" and (.container.id // \"\" | startswith(\"${cid7:0:12}\"))" 15
stop_agent

# kernels without bpf_rdonly_cast: trusted-pointer tp_btf programs and
# probe-read connect hooks, the same records
out=$T/trusted.json
VIGIL_NO_UNTRUSTED=1 start_agent "$out" --events || not_ok "agent starts without untrusted task loads"
check "no untrusted loads: the agent holds the trusted-pointer and probe-read programs" \
	has_progs "$AGENT_PID" vg_exec_btf vg_fork_btf vg_exit_btf vg_oom_btf vg_connect4 vg_connect6 vg_cap_btf
check "... and none of the *_ut ones" \
	lacks_progs "$AGENT_PID" vg_exec_ut vg_oom_ut vg_connect4_ut vg_connect6_ut vg_cap_ut
c8=$(ctr_run --network none -v "$bins:/vgbin:ro" --name vg-e2e-hk-tr-$E2E_RUN "$IMAGE" sh -c \
	'sleep 1; /vgbin/vg-connect 169.254.169.254 80; sleep 1')
cid8=$(ctr_full_id "$c8")
check "no untrusted loads: exec seen with its container" \
	wait_json "$out" ".event.action==\"exec\" and .process.name==\"vg-connect\" and (.container.id // \"\" | startswith(\"${cid8:0:12}\"))" 15
check "no untrusted loads: connect seen with its container" \
	wait_json "$out" ".event.action==\"connect\" and .destination.ip==\"169.254.169.254\" and (.container.id // \"\" | startswith(\"${cid8:0:12}\"))" 15
stop_agent

# the configuration key does the same as the flag
printf 'syscall_results: true\npriority_boost: 0\n' > "$T/sr.yaml"
start_agent "$T/cfg.json" --config "$T/sr.yaml" || not_ok "agent starts with syscall_results: true"
cfg_tps() { grep -q 'syscall results: ' "$T/cfg.json.err" && test -n "$(sys_tps_of "$AGENT_PID")"; }
check "syscall_results: true in the configuration attaches the syscall tracepoints" cfg_tps
check "priority_boost: 0 leaves the agent at nice 0" all_nice "$AGENT_PID" 0
stop_agent

# a host without tracefs mounted: the agent mounts it for the syscall
# tracepoints and leaves the host as found (after attaching, while it may
# still unmount)
tfs_mounted() { grep -q ' /sys/kernel/tracing .* - tracefs ' /proc/self/mountinfo; }
tfs_restore() { tfs_mounted || mount -t tracefs -o nosuid,nodev,noexec tracefs /sys/kernel/tracing; }
if tfs_mounted && umount /sys/kernel/tracing; then
	trap 'tfs_restore; cleanup' EXIT
	start_agent "$T/tfs.json" --syscall-results || not_ok "agent starts with tracefs unmounted"
	check "tracefs unmounted: the agent mounts it and attaches the syscall tracepoints" \
		test -n "$(sys_tps_of "$AGENT_PID")"
	check "... and unmounts it once they are attached" sh -c '! grep -q " /sys/kernel/tracing .* - tracefs " /proc/self/mountinfo'
	stop_agent
	check "... nor leaves one after it stops" sh -c '! grep -q " /sys/kernel/tracing .* - tracefs " /proc/self/mountinfo'
	tfs_restore
else
	ok "# skip: tracefs is not mounted at /sys/kernel/tracing here"
fi
finish
