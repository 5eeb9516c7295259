#!/bin/bash
# A wall clock that steps while the agent runs (NTP's first sync after
# boot, a resume, a restored VM): records stamped after the step carry the
# new time, as stats records always did.  The step is the agent's alone,
# an LD_PRELOAD shim (tests/lib/vg-fakeclock.c) adding the seconds in a
# file to CLOCK_REALTIME; the host's clock is not touched.
. "$(dirname "$0")/lib.sh"

case $BUILD in
/*) shim=$BUILD/lib/vg-fakeclock.so ;;
*) shim=$PWD/$BUILD/lib/vg-fakeclock.so ;;
esac
[ -f "$shim" ] || { not_ok "the clock shim is built ($shim)"; finish; }
echo 0 > "$T/offset"
out=$T/feed.json
# a sanitizer build wants its runtime first: the shim is preloaded before it
export VG_FAKECLOCK=$T/offset LD_PRELOAD=$shim \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
start_agent "$out" --events || { not_ok "agent ready under the clock shim"; finish; }
unset VG_FAKECLOCK LD_PRELOAD
ok "agent ready under the clock shim"

# before the step: a container's exec at about the real time
c1=$(ctr_run --network none --name vg-e2e-clock1-$$ "$IMAGE" sh -c 'sleep 0.3')
cid1=$(ctr_full_id "$c1" | cut -c1-12)
check "an exec before the step is seen" \
	wait_json "$out" ".event.action == \"exec\" and .container.id == \"$cid1\"" 10
# one day ahead, then another container's exec
echo 86400 > "$T/offset"
sleep 0.5
c2=$(ctr_run --network none --name vg-e2e-clock2-$$ "$IMAGE" sh -c 'sleep 0.3')
cid2=$(ctr_full_id "$c2" | cut -c1-12)
check "an exec after the step is seen" \
	wait_json "$out" ".event.action == \"exec\" and .container.id == \"$cid2\"" 10
stamp() { # epoch seconds of the first exec record of container $1
	jq -r "select(.event.action == \"exec\" and .container.id == \"$1\") | .\"@timestamp\"" "$out" |
		head -1 | xargs -I{} date -d {} +%s
}
now=$(date +%s)
t1=$(stamp "$cid1")
t2=$(stamp "$cid2")
echo "# before the step: $((t1 - now)) s from now; after it: $((t2 - now)) s from now"
check "the exec before the step carries the real time" test $((t1 - now)) -gt -60 -a $((t1 - now)) -lt 60
check "the exec after the step carries the stepped time (a day ahead)" \
	test $((t2 - now - 86400)) -gt -60 -a $((t2 - now - 86400)) -lt 60
finish
