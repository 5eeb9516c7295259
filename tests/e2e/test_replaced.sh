#!/bin/bash
# A container's main process that runs a minute as a service and then
# replaces itself with a shell (an exploit's execve("/bin/sh") in the
# process it took over) is reported as shell_in_service_container; one
# that execs a shell moments after it started (an entry point's start-up
# chain) is not.  vg-exec -r SECS runs that long, then execs the rest of
# its arguments.  --network none: nothing leaves the host.
. "$(dirname "$0")/lib.sh"

out=$T/feed.json
start_agent "$out" || { not_ok "agent ready"; finish; }
svc=$(ctr_run --network none --name vg-e2e-replaced-$$ "$IMAGE" vg-exec -r 62 /bin/sh -c 'sleep 2')
quick=$(ctr_run --network none --name vg-e2e-entry-$$ "$IMAGE" vg-exec -r 1 /bin/sh -c 'sleep 2')
svc_id=$(ctr_full_id "$svc")
quick_id=$(ctr_full_id "$quick")
check "the service that became a shell after a minute is reported" \
	wait_json "$out" ".rule.name == \"shell_in_service_container\" and .container.id == \"$svc_id\" and .vigil.alert.step == \"vg-exec replaced by a shell\"" 80
check "... saying how long it ran first" \
	sh -c "jq -r 'select(.container.id == \"$svc_id\" and .event.kind == \"alert\") | .message' '$out' | grep -qE 'running for (6[0-9]|[7-9][0-9]) s, replaced itself with the shell'"
check "the entry point that execs a shell at once is not" \
	test -z "$(jq -c "select(.event.kind == \"alert\" and .container.id == \"$quick_id\")" "$out")"
check "every line is valid JSON" all_valid_json "$out"
finish
