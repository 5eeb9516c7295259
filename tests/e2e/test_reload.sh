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
stop_agent
check "every record holds to the JSON Schema" schema_valid "$out"
finish
