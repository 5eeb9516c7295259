#!/bin/bash
# posture, end to end: real containers, `vigil posture` without an agent.
#  - a container started like the vulnerable Redis of the report (published
#    on all addresses, no limits, root, default capabilities, a password in
#    its environment) yields the findings at once;
#  - one started with the hardened flags yields none of them (the report's
#    flags set no CPU limit: that one low finding is the only one left, and
#    with --cpus it is clean);
#  - the secret's value appears in no output;
#  - the state files alone (no daemon) give the same findings, and a
#    malformed state gives one finding-less record.
# The published port is never sent anything; the container is removed as
# soon as posture has looked at it.
. "$(dirname "$0")/lib.sh"

# the image built by tests/e2e/run; vigil-test-bb is the same busybox
docker image inspect "$IMAGE" >/dev/null 2>&1 || IMAGE=vigil-test-bb
MARK="vigil-posture-marker-$$-$RANDOM$RANDOM"
P="vg-posture-$$"
# Our own label, not lib.sh's vigil.e2e=RUN: ours go in our own cleanup.
pctr_run() {
	docker run -d --label "vigil.e2e.posture=$P" "$@"
}
cleanup() {
	stop_agent
	ids=$(docker ps -aq --filter "label=vigil.e2e.posture=$P" 2>/dev/null)
	[ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
	rm -rf "$T"
}

vuln=$(pctr_run --name "$P-vuln" -p 6379 -e DB_PASSWORD="$MARK" "$IMAGE" sleep 300)
hard=$(pctr_run --name "$P-hard" --read-only --cap-drop ALL \
	--security-opt no-new-privileges -m 64m --pids-limit 64 --user 1000:1000 \
	"$IMAGE" sleep 300)
hardcpu=$(pctr_run --name "$P-hardcpu" --read-only --cap-drop ALL \
	--security-opt no-new-privileges -m 64m --pids-limit 64 --user 1000:1000 \
	--cpus 0.5 "$IMAGE" sleep 300)

"$VIGIL" posture --json > "$T/api.json" 2> "$T/api.err"; rc_api=$?
"$VIGIL" posture --color=never > "$T/table.txt" 2> "$T/table.err"; rc_table=$?
"$VIGIL" posture --color=always > "$T/colour.txt" 2> "$T/colour.err"
# no daemon: the state files only
"$VIGIL" posture --json --socket "$T/no.sock" > "$T/state.json" 2> "$T/state.err"; rc_state=$?
# published port: remove the container at once
docker rm -f "$vuln" >/dev/null 2>&1

check "posture --json exits 0" test "$rc_api" -eq 0
check "posture table exits 0" test "$rc_table" -eq 0
check "posture from state files exits 0" test "$rc_state" -eq 0
check "every record is valid JSON" all_valid_json "$T/api.json"
check "every state-file record is valid JSON" all_valid_json "$T/state.json"

# rules NAME FILE: sorted rule names of container NAME, one line
rules() {
	jq -r --arg n "$1" 'select(.container.name == $n) | .rule.name // "ERROR"' "$2" |
		sort | tr '\n' ' '
}
has() { # has FILE NAME RULE [JQ-CONDITION]
	[ -n "$(jq -c --arg n "$2" --arg r "$3" \
		"select(.container.name == \$n and .rule.name == \$r ${4:+and ($4)})" \
		"$1" | head -n 1)" ]
}

for src in api state; do
	f="$T/$src.json"
	check "$src: port on all addresses, high, names 6379" \
		has "$f" "$P-vuln" posture_port_all_addresses \
		'.vigil.severity == "high" and (.message | test("^6379/tcp published on 0.0.0.0"))'
	for r in posture_no_memory_limit posture_no_cpu_limit posture_no_pids_limit \
		posture_root_user posture_new_privileges_allowed posture_writable_rootfs; do
		check "$src: vulnerable has $r" has "$f" "$P-vuln" "$r"
	done
	check "$src: default caps NET_RAW reported" has "$f" "$P-vuln" posture_default_caps \
		'.message | test("NET_RAW")'
	check "$src: DB_PASSWORD reported by name" has "$f" "$P-vuln" posture_secret_env \
		'.message | test("DB_PASSWORD")'
	check "$src: hardened leaves only the missing CPU limit" \
		test "$(rules "$P-hard" "$f")" = "posture_no_cpu_limit "
	check "$src: hardened with --cpus has no finding" test -z "$(rules "$P-hardcpu" "$f")"
done

check "records are ECS posture state" has "$T/api.json" "$P-vuln" posture_root_user \
	'.event.kind == "state" and (.event.category | index("configuration")) and
	 (.event.severity | type) == "number" and (.vigil.posture.remedy | length) > 0 and
	 .container.image.name == "'"$IMAGE"'"'
check "container.id is the full Docker id" has "$T/api.json" "$P-vuln" posture_root_user \
	".container.id == \"$vuln\""

# against the official ECS definitions, when @elastic/ecs is installed
tools/ecs-check "$T/api.json" "$T/state.json" > "$T/ecs.out" 2>&1; rc_ecs=$?
if [ "$rc_ecs" -eq 2 ]; then
	ok "posture records are ECS # SKIP @elastic/ecs not installed"
else
	check "posture records are ECS" test "$rc_ecs" -eq 0
	[ "$rc_ecs" -eq 0 ] || sed 's/^/#   /' "$T/ecs.out"
fi

# the table: worst first, grades, no escape sequences without colour
row() { grep -n "^$1 " "$T/table.txt" | head -n 1; }
check "table lists the vulnerable container with grade E" \
	bash -c "grep -E '^$P-vuln +[^ ]+ +E ' '$T/table.txt' | grep -q '6379 published on 0.0.0.0'"
check "table grades the hardened --cpus container A" \
	bash -c "grep -qE '^$P-hardcpu +[^ ]+ +A ' '$T/table.txt'"
lv=$(row "$P-vuln" | cut -d: -f1) lh=$(row "$P-hardcpu" | cut -d: -f1)
check "table is worst first" test "${lv:-9999}" -lt "${lh:-0}"
check "table without colour has no escapes" bash -c "! grep -q $'\033' '$T/table.txt'"
check "table with --color=always is coloured" grep -q $'\033\\[' "$T/colour.txt"

# malformed runtime state: one finding-less record, valid JSON, no crash
root="$T/root"
id=$(printf 'f%.0s' $(seq 64))
mkdir -p "$root/containers/$id"
printf '{"ID": "%s", "Name": "/broken", "Config": {"Env": ["DB_PASSWORD=%s"' "$id" "$MARK" \
	> "$root/containers/$id/config.v2.json"
"$VIGIL" posture --json --all --socket "$T/no.sock" --docker-root "$root" \
	> "$T/bad.json" 2> "$T/bad.err"; rc_bad=$?
check "malformed state: exits 0" test "$rc_bad" -eq 0
check "malformed state: valid JSON" all_valid_json "$T/bad.json"
check "malformed state: one finding-less record" \
	test "$(jq -c 'select(.rule == null and .event.outcome == "failure" and
		.container.id == "'"$id"'")' "$T/bad.json" | wc -l)" -eq 1
tools/ecs-check "$T/bad.json" > /dev/null 2>&1; rc_ecs=$?
[ "$rc_ecs" -eq 2 ] || check "malformed state: record is ECS" test "$rc_ecs" -eq 0
"$VIGIL" posture --all --socket "$T/no.sock" --docker-root "$root" --color=never \
	> "$T/bad.txt" 2>&1
check "malformed state: table says unreadable" grep -q "state unreadable" "$T/bad.txt"

# the agent: a container started while it runs gets its findings once each,
# though it is looked at twice (caught while dockerd starts it, then ~1 s on)
out=$T/agent.json
start_agent "$out" || not_ok "agent starts"
late=$(pctr_run --network none --name "$P-late" "$IMAGE" sh -c 'sleep 1; true; sleep 3')
wait_json "$out" ".container.name==\"$P-late\" and .rule.name==\"posture_root_user\"" 15
sleep 2.5
stop_agent
docker rm -f "$late" >/dev/null 2>&1
once_each() {
	local n u
	n=$(jq -r "select(.container.name==\"$P-late\" and (.rule.name // \"\" | startswith(\"posture_\"))) | .rule.name" "$out" | wc -l)
	u=$(jq -r "select(.container.name==\"$P-late\" and (.rule.name // \"\" | startswith(\"posture_\"))) | .rule.name" "$out" | sort -u | wc -l)
	[ "$n" -gt 0 ] && [ "$n" -eq "$u" ] || { echo "# $n posture records, $u rules"; return 1; }
}
check "agent: a container started while it runs has each posture finding once" once_each

# the secret's value: nowhere in any output or error stream
check "secret marker value appears in no output" bash -c "! grep -rqF -- '$MARK' '$T'/*.json '$T'/*.txt '$T'/*.err"

finish
