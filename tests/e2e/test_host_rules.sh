#!/bin/bash
# host_processes: true in the configuration, or host: true on one rule,
# makes the kernel send host processes' records too, with no --host: at
# start and after a reload.  A host process's connect to the metadata
# address runs in a network namespace of its own with no route, so the
# attempt fails at once and is still seen.
. "$(dirname "$0")/lib.sh"

vgc=$(realpath "$BUILD/bin/vg-connect")
cfg=$T/vigil.yaml
out=$T/feed.json
host_meta() { unshare -n "$vgc" "$1" 80 > /dev/null 2>&1; }
# each phase its own address: a repeat of one would only count in the
# host's open incident
host_alert() {
	echo ".rule.name==\"metadata_service_access\" and .vigil.scope==\"host\" and .destination.ip==\"$1\""
}
reloads() { grep -c "reloaded" "$out.err"; }
reload_to() {
	local n
	n=$(reloads)
	printf "$1" > "$cfg"
	kill -HUP "$AGENT_PID"
	for _ in $(seq 50); do [ "$(reloads)" -gt "$n" ] && break; sleep 0.1; done
}

printf 'host_processes: true\n' > "$cfg"
start_agent "$out" --config "$cfg" || { not_ok "agent starts with host_processes: true"; finish; }
host_meta 169.254.169.254
check "host_processes: true alone: a host process's metadata access alerts" \
	wait_json "$out" "$(host_alert 169.254.169.254)" 10

reload_to 'host_processes: false\n'
host_meta 169.254.170.2
sleep 2
check "reloaded to false: a host process stays silent" \
	test -z "$(json_first "$out" "$(host_alert 169.254.170.2)")"

reload_to 'rules:\n  metadata_service_access:\n    host: true\n'
check "a reload to one rule's host: true is taken" test "$(reloads)" -ge 2
host_meta 100.100.100.200
check "... and that rule alerts for a host process again" \
	wait_json "$out" "$(host_alert 100.100.100.200)" 10
stop_agent
check "every record holds to the JSON Schema" schema_valid "$out"

# host: true on a disabled rule watches nothing: host records stay in the
# kernel
printf 'rules:\n  shell_in_service_container:\n    enabled: false\n    host: true\n' > "$cfg"
start_agent "$T/off.json" --events --config "$cfg" || not_ok "agent starts with host: true on a disabled rule"
/bin/true host-off-marker-$$
sleep 2
stop_agent
check "host: true on a disabled rule sends no host record" \
	test -z "$(json_first "$T/off.json" '.process.args[1]=="host-off-marker-'$$'"')"
# on the resource rule, which samples containers only, it is refused
printf 'rules:\n  miner_resource_spike:\n    host: true\n' > "$cfg"
timeout 10 "$VIGIL" run --json --tail-socket none --heartbeat none --config "$cfg" > /dev/null 2> "$T/spike.err"
rc=$?
check "host: true on the resource rule is refused (exit 2, the line said)" \
	sh -c "test $rc -eq 2 && grep -q ':3: miner_resource_spike samples containers' '$T/spike.err'"

# an agent started in a cgroup namespace of its own (a sensor container's,
# Docker's default on cgroup v2) joins the host's (kthreadd's, PID 2):
# /proc/PID/cgroup then names host paths, which the process table seeded at
# start can place
real=$(realpath "$VIGIL")
cat > "$T/cgns.sh" <<EOS
#!/bin/sh
exec unshare -C "$real" "\$@"
EOS
chmod +x "$T/cgns.sh"
VIGIL="$T/cgns.sh" start_agent "$T/cgns.json" || not_ok "agent starts in a cgroup namespace of its own"
check "an agent started in its own cgroup namespace joins the host's" \
	test "$(readlink /proc/$AGENT_PID/ns/cgroup)" = "$(readlink /proc/2/ns/cgroup)"
stop_agent
finish
