#!/bin/bash
# SIGHUP reloads the configuration whole: a bad file is refused with
# file:line and the running configuration stays; a good one takes effect
# for the next events.
. "$(dirname "$0")/lib.sh"

cfg=$T/vigil.yaml
printf 'rules:\n  metadata_service_access:\n    enabled: true\n' > "$cfg"
out=$T/feed.json
start_agent "$out" --config "$cfg" || { not_ok "agent starts with a configuration"; finish; }

alerts_for() { jq -c "select(.rule.name==\"metadata_service_access\" and .container.id==\"$1\")" "$out" 2>/dev/null; }
meta_ctr() {
	c=$(ctr_run --network none "$IMAGE" sh -c 'sleep 1; vg-connect 169.254.169.254 80; sleep 1')
	ctr_full_id "$c"
}

# a bad file: refused, the agent keeps running with what it had
printf 'rules:\n  metadata_service_access:\n    enabled: maybe\n' > "$cfg"
kill -HUP "$AGENT_PID"
sleep 1
check "a bad reload is refused with file:line" grep -q "reload refused.*vigil.yaml:3" "$out.err"
check "... and the agent keeps running" kill -0 "$AGENT_PID"
cid=$(meta_ctr)
check "... with the running configuration: the rule still fires" \
	wait_json "$out" ".rule.name==\"metadata_service_access\" and .container.id==\"$cid\"" 15

# a good file: swapped in whole, the rule is off for the next container
printf 'rules:\n  metadata_service_access:\n    enabled: false\n' > "$cfg"
kill -HUP "$AGENT_PID"
for _ in $(seq 50); do grep -q "reloaded" "$out.err" && break; sleep 0.1; done
check "a good reload is taken" grep -q "reloaded $cfg" "$out.err"
cid2=$(meta_ctr)
sleep 4
check "... and the disabled rule stays silent" test -z "$(alerts_for "$cid2")"

# the addresses watched in the kernel for unconnected UDP sendmsg follow a
# reload too: before, only userspace's list changed, and a sendto to an
# added address never reached it
send_ctr() {
	c=$(ctr_run --network none "$IMAGE" sh -c "sleep 1; vg-connect -u -s $1 53; sleep 1")
	ctr_full_id "$c"
}
reloads() { grep -c "reloaded" "$out.err"; }
printf 'rules:\n  metadata_service_access:\n    enabled: true\n' > "$cfg"
kill -HUP "$AGENT_PID"
for _ in $(seq 50); do [ "$(reloads)" -ge 2 ] && break; sleep 0.1; done
cid3=$(send_ctr 169.254.169.254)
check "an unconnected UDP sendto to the metadata endpoint alerts" \
	wait_json "$out" ".rule.name==\"metadata_service_access\" and .container.id==\"$cid3\" and .destination.ip==\"169.254.169.254\"" 15
printf 'rules:\n  metadata_service_access:\n    addresses: [10.99.0.7]\n' > "$cfg"
kill -HUP "$AGENT_PID"
for _ in $(seq 50); do [ "$(reloads)" -ge 3 ] && break; sleep 0.1; done
check "a reload that changes the addresses is taken" test "$(reloads)" -ge 3
cid4=$(send_ctr 10.99.0.7)
check "... a sendto to the added address alerts" \
	wait_json "$out" ".rule.name==\"metadata_service_access\" and .container.id==\"$cid4\" and .destination.ip==\"10.99.0.7\"" 15
cid5=$(send_ctr 169.254.169.254)
sleep 3
check "... and one to the dropped address does not" test -z "$(alerts_for "$cid5")"

# a shorter sample_interval takes effect from the reload: before, the next
# sample stayed where the old interval had put it (here an hour away)
printf 'sample_interval: 1h\n' > "$cfg"
kill -HUP "$AGENT_PID"
for _ in $(seq 50); do [ "$(reloads)" -ge 4 ] && break; sleep 0.1; done
sleep 6 # the sample the default 5 s had due, after which the next is an hour away
c=$(ctr_run --network none "$IMAGE" sh -c 'yes > /dev/null & p=$!; sleep 30; kill $p')
cid6=$(ctr_full_id "$c")
printf 'sample_interval: 1s\nrules:\n  miner_resource_spike:\n    cpu_percent: 10\n    cpu_window: 2s\n' > "$cfg"
kill -HUP "$AGENT_PID"
for _ in $(seq 50); do [ "$(reloads)" -ge 5 ] && break; sleep 0.1; done
check "a reload to a shorter sample_interval samples at once: a CPU spike alerts" \
	wait_json "$out" ".rule.name==\"miner_resource_spike\" and .container.id==\"$cid6\"" 15
docker rm -f "$c" > /dev/null 2>&1
stop_agent
check "every record holds to the JSON Schema" schema_valid "$out"
finish
