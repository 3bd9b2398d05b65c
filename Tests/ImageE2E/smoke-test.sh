#!/bin/bash
# Checks the harness itself, without dstack: boots an instance from the stock root, runs
# smoke-user-data.sh in it against a file server on the host's veth address, and checks
# what the instance did and that stopping it leaves nothing behind. Prints the timings
# and a closing "N passed, N failed" line; exits 1 when a check failed.
#
#   smoke-test.sh [ROOT_TARBALL]     (default: make-root.sh's stock root, made if missing)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
boot=$here/boot-instance.sh
passed=0
failed=0
check() { # NAME COMMAND...
    local name=$1
    shift
    if "$@"; then passed=$((passed + 1)); echo "ok   $name"; else failed=$((failed + 1)); echo "FAIL $name"; fi
}
now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.2f", $1 - $2}'; }

t=$(now)
root=${1:-$("$here/make-root.sh")} || { echo "make-root.sh failed"; exit 1; }
echo "TIME make-root $(since "$t") s"

work=$(mktemp -d)
server_pid=""
instance_dir=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    [ -n "$instance_dir" ] && [ -d "$instance_dir" ] && "$boot" stop "$instance_dir" >/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

forwarding_before=$(cat /proc/sys/net/ipv4/ip_forward)
t=$(now)
"$boot" up "$root" >"$work/up.env" || { echo "boot-instance.sh up failed"; exit 1; }
echo "TIME up $(since "$t") s"
value() { sed -n "s/^$1=//p" "$2" | tail -n1; }
instance_dir=$(value INSTANCE_DIR "$work/up.env")
host_address=$(value HOST_ADDRESS "$work/up.env")
netns=$(value INSTANCE_NETNS "$work/up.env")
host_if=$(value HOST_INTERFACE "$work/up.env")
instance_root=$(value INSTANCE_ROOT "$work/up.env")

# The host's server, bound on the host end of the veth pair only.
mkdir "$work/www"
payload="payload-$RANDOM$RANDOM"
echo "$payload" >"$work/www/payload.txt"
port=$((20000 + RANDOM % 20000))
(cd "$work/www" && exec setsid /usr/bin/python3 -m http.server "$port" --bind "$host_address" \
    </dev/null >"$work/http.log" 2>&1) &
server_pid=$!
for _ in $(seq 100); do bash -c "exec 3<>/dev/tcp/$host_address/$port" 2>/dev/null && break; sleep 0.05; done
kill -0 "$server_pid" 2>/dev/null || { echo "the file server did not start: $(cat "$work/http.log")"; exit 1; }

t=$(now)
instance_id=i-0e2e$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
INSTANCE_ID=$instance_id "$boot" run "$instance_dir" "$here/smoke-user-data.sh" \
    "SERVER_URL=http://$host_address:$port" >"$work/run.env" || { echo "boot-instance.sh run failed"; exit 1; }
echo "TIME run $(since "$t") s"
t=$(now)
"$boot" wait "$instance_dir" 300 >"$work/wait.out"
echo "TIME user-data-to-exit $(since "$t") s"
log=$instance_dir/user-data.log
grep '^TIME ' "$log" | sed 's/^TIME \(.*\)/TIME in-instance \1 s/'

check "user data exited 0" grep -qx 'USER_DATA_EXIT=0' "$work/wait.out"
for name in dns-absent no-swift jansson-missing jansson-installed imdsv1-refused host-server proxy-refuses-others; do
    check "instance: $name" grep -qx "CHECK $name ok" "$log"
done
check "instance: IMDS gave its ID" grep -qx "CHECK imds-instance-id $instance_id" "$log"
check "the file the user data wrote" grep -qx "$instance_id $payload" "$instance_root/root/result.txt"
check "proxy logged only the mirror" bash -c "! grep -v ' http://deb.debian.org/' '$(value PROXY_LOG "$work/up.env")' | grep -v '^403 '"
check "still running after its user data" bash -c "[ \"\$('$boot' status '$instance_dir' | head -n1)\" = STATE=running ]"
check "a process left running in the netns" bash -c "[ -n \"\$(ip netns pids '$netns')\" ]"

cp "$log" "$work/user-data.log"
log=$work/user-data.log
instance_pids=$(ip netns pids "$netns" | tr '\n' ' ')
t=$(now)
"$boot" stop "$instance_dir" >/dev/null
echo "TIME stop $(since "$t") s"
check "stop: netns gone" bash -c "! ip netns list | grep -qw '$netns'"
check "stop: veth gone" bash -c "! ip link show '$host_if' >/dev/null 2>&1"
check "stop: no mounts left" bash -c "! findmnt -rn -o TARGET | grep -qF '$instance_dir'"
check "stop: directory gone" bash -c "[ ! -e '$instance_dir' ]"
check "stop: no process of the instance left" bash -c "for p in $instance_pids; do ps -o stat= -p \$p | grep -qv '^Z' && exit 1; done; exit 0"
check "host forwarding left as it was" bash -c "[ \"\$(cat /proc/sys/net/ipv4/ip_forward)\" = '$forwarding_before' ]"

if [ "$failed" != 0 ]; then
    echo "--- user data log"
    cat "$log" 2>/dev/null | tail -n 40
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
