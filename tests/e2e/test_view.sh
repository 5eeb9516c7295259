#!/bin/bash
# The live view on a terminal (script(1) gives the agent one): coloured by
# severity, and plain under NO_COLOR, with the same records either way.
# The container's posture findings are what it shows.
. "$(dirname "$0")/lib.sh"

c=$(ctr_run --network none --name vg-e2e-view-$$ "$IMAGE" sleep 60)
for mode in colour plain; do
	env=
	[ $mode = plain ] && env="NO_COLOR=1"
	script -qfec "env $env timeout -s INT 4 $VIGIL run --tail-socket none --heartbeat none" \
		/dev/null > "$T/$mode.txt" 2>&1
done
esc=$'\033['
check "the view on a terminal is coloured" grep -qF "$esc" "$T/colour.txt"
check "... and shows the container's posture findings" grep -q "posture_" "$T/colour.txt"
check "under NO_COLOR it has no colour" bash -c "! grep -qF '$esc' '$T/plain.txt'"
check "... and shows the same findings" grep -q "posture_" "$T/plain.txt"
finish
