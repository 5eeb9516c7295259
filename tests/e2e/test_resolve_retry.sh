#!/bin/bash
# A container whose lookup failed is looked up again once a minute.  The
# agent runs in a mount namespace of its own where Docker's socket and
# state files are hidden: a container started then is "failed", with a
# posture record that says its state could not be read.  Once both are
# back, the next minute's look names it, and its posture findings come.
. "$(dirname "$0")/lib.sh"

real=$(readlink -f "$VIGIL")
: > "$T/not-a-socket"
cat > "$T/hidden.sh" <<EOS
#!/bin/sh
mount -t tmpfs -o size=1m vigil-e2e-hide /var/lib/docker/containers || exit 1
mount --bind "$T/not-a-socket" /var/run/docker.sock || exit 1
exec "$real" "\$@"
EOS
cat > "$T/vigil" <<EOS
#!/bin/sh
exec unshare -m --propagation private "$T/hidden.sh" "\$@"
EOS
chmod +x "$T/hidden.sh" "$T/vigil"
VIGIL=$T/vigil

out=$T/feed.json
start_agent "$out" --events || { not_ok "agent ready in its own mount namespace"; finish; }
check "the agent's own view hides Docker's state files" \
	nsenter -t "$AGENT_PID" -m mountpoint -q /var/lib/docker/containers

ctr=vg-retry-$E2E_RUN
id=$(docker run -d --label "vigil.e2e=$E2E_RUN" --network none --name "$ctr" "$IMAGE" \
	sh -c 'while :; do cat /etc/hostname > /dev/null; sleep 1; done' |
	cut -c1-12) # records carry the short id
t0=$(date +%s)
failed='.container.id == "'"$id"'" and .vigil.enrichment == "failed"'
check "with the runtime hidden, the container's records say failed" \
	wait_json "$out" ".event.action == \"exec\" and $failed" 15
check "... and its posture record says its state could not be read" \
	wait_json "$out" '(.container.id // "" | startswith("'"$id"'")) and .event.outcome == "failure" and (.message // "" | test("could not be read"))' 5
check "... and nothing names it" \
	test -z "$(json_first "$out" '(.container.name // "") == "'"$ctr"'"')"

nsenter -t "$AGENT_PID" -m umount /var/run/docker.sock
nsenter -t "$AGENT_PID" -m umount /var/lib/docker/containers
# the first minute's retry comes within 60 s of the agent's start, plus
# the 5 s step it is taken on
check "the runtime back, the next minute's look names the container" \
	wait_json "$out" '.event.action == "exec" and .container.name == "'"$ctr"'"' 80
echo "# named $(( $(date +%s) - t0 )) s after its start"
check "... and its posture findings come, named" \
	wait_json "$out" '.container.name == "'"$ctr"'" and .rule.name == "posture_root_user"' 5
sleep 3 # a few more of its records
stop_agent
# the container's exec records in order: failed, then named for good
states() {
	jq -n -r '[inputs | select(.container.id == "'"$id"'" and .event.action == "exec")
		| .vigil.enrichment // "done"] | (index("done")) as $i
		| $i != null and (.[:$i] | index("failed") != null) and (.[$i:] | all(. == "done"))
		' "$out" 2>/dev/null
}
check "... and once named, none of its records says failed again" test "$(states)" = true
check "every line of the feed is JSON" all_valid_json "$out"
finish
