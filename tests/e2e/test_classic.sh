#!/bin/bash
# The classic fallback (kernels without tp_btf, forced here with
# VIGIL_FORCE_CLASSIC=1): classic and raw tracepoints only, and the records
# a user relies on still arrive with their container: exec, fork, exit
# (once per process: the classic record carries group_dead where the
# tp_btf prototype does), connect with the metadata alert, mount, OOM kill.
. "$(dirname "$0")/lib.sh"

# BPF program types process $1 holds open (from its fds)
prog_types_of() {
	cat /proc/"$1"/fdinfo/* 2>/dev/null | sed -n 's/^prog_id:[[:space:]]*//p' | sort -u |
		while read -r id; do bpftool prog show id "$id" -j | jq -r .type; done | sort -u
}

out=$T/classic.json
VIGIL_FORCE_CLASSIC=1 start_agent "$out" --events || { not_ok "agent starts in classic mode"; finish; }
check "the ready line says classic" grep -q "programs attached (classic)" "$out.err"
types=$(prog_types_of "$AGENT_PID")
check "no tp_btf (tracing) program, classic tracepoints held" \
	test -z "$(echo "$types" | grep -x tracing)" -a -n "$(echo "$types" | grep -x tracepoint)"

# CAP_SYS_ADMIN, no seccomp: the mount reaches the capability check
c=$(ctr_run --network none --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
	-m 32m --memory-swap 32m --name vg-e2e-classic-$E2E_RUN "$IMAGE" sh -c \
	'sleep 1; cat /etc/hostname >/dev/null; vg-connect 169.254.169.254 80; vg-threads -n 1000 -t 8; mount -t tmpfs vg-classic /mnt; exec tail /dev/zero')
cid=$(ctr_full_id "$c")
in=".container.id==\"${cid:0:12}\""
check "exec seen with its container and arguments" \
	wait_json "$out" "$in and .event.action==\"exec\" and .process.args==[\"cat\",\"/etc/hostname\"]" 15
check "connect to the metadata service raises the alert" \
	wait_json "$out" ".rule.name==\"metadata_service_access\" and .container.id==\"$cid\" and .destination.ip==\"169.254.169.254\"" 15
check "a mount attempt in the container is seen" \
	wait_json "$out" "$in and .vigil.mount.op==\"mount\" and .vigil.mount.target==\"/mnt\" and .vigil.mount.source==\"vg-classic\"" 15
check "the OOM kill names the victim and its container" \
	wait_json "$out" "$in and .event.action==\"oom_kill\" and .process.name==\"tail\"" 30
# the classic hook passes the victim's pid and name only: the rest comes
# from its process's entry (a user id of 0 would say root, a cgroup of 0
# would join nothing)
cg_of() { jq -r "select($in and .event.kind==\"event\" and .event.action==\"$1\") | .vigil.cgroup_id" "$out" | head -n 1; }
ocg=$(cg_of oom_kill)
check "the OOM record carries the victim's cgroup ($ocg), as its exec did" \
	test -n "$ocg" -a "$ocg" != 0 -a "$ocg" = "$(cg_of exec)"
exits() { jq -r "select($in and .process.name==\"vg-threads\" and .event.action==\"exit\") | .process.pid" "$out"; }
forks() { jq -r "select($in and .process.name==\"vg-threads\" and .event.action==\"fork\") | .process.pid" "$out"; }
once() {
	sleep 1
	[ "$(forks | wc -l)" -eq 1000 ] && exits | exit_counts 1001 ||
		{ echo "# forks $(forks | wc -l), exits $(exits | wc -l), distinct $(exits | sort -u | wc -l)"; return 1; }
}
check "1000 processes whose threads leave together: a fork and one exit each" once
stop_agent
check "every line is valid JSON" all_valid_json "$out"
finish
