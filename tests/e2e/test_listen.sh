#!/bin/bash
# The listening sockets are made before the agent drops its capabilities:
# a tail socket given the group "vigil" (root is no member of it, so
# setting the group takes CAP_CHOWN) and a metrics port below 1024
# (CAP_NET_BIND_SERVICE).  Made after the drop, either refused the start.
. "$(dirname "$0")/lib.sh"

made_group=
if ! getent group vigil >/dev/null; then
	groupadd vigil && made_group=1
fi
trap '[ -n "$made_group" ] && groupdel vigil; cleanup' EXIT

port=
for p in $(seq 900 999); do
	[ -z "$(ss -Hltn "sport = :$p")" ] && { port=$p; break; }
done
out=$T/feed.json
start_agent "$out" --metrics "127.0.0.1:$port" ||
	{ not_ok "the agent starts with group vigil present and metrics on port $port"; finish; }
ok "the agent starts with group vigil present and metrics on port $port"
check "the tail socket's group is vigil" test "$(stat -c %G "$T/tail.sock")" = vigil
check "... its mode 0660" test "$(stat -c %a "$T/tail.sock")" = 660
check "the capabilities were dropped all the same" \
	grep -q "capabilities CAP_DAC_READ_SEARCH,CAP_SYS_PTRACE (dropped" "$out.err"
check "the metrics port below 1024 answers" \
	sh -c "curl -s --max-time 5 'http://127.0.0.1:$port/metrics' | grep -q '^vigil_uptime_seconds'"
stop_agent
check "the tail socket is gone after the stop" test ! -e "$T/tail.sock"
finish
