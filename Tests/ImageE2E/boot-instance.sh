#!/bin/bash
# Boots "an instance" from a root filesystem the way a stock cloud image runs its user
# data, on this machine: a fresh copy of the root, its own network namespace on a veth
# pair to the host, its own mount/PID/UTS namespaces, an EC2-style metadata service,
# and a way out to Debian's mirror only (an HTTP proxy on the host end of the veth pair,
# configured in the root's apt as a VPC's proxy would be). See README.md beside this file.
#
#   boot-instance.sh up ROOT                      make the instance; print its facts
#   boot-instance.sh run DIR USER_DATA [K=V...]   run the user data in it (background)
#   boot-instance.sh start ROOT USER_DATA [K=V...]  up, then run
#   boot-instance.sh status DIR                   print state and the user data's exit
#   boot-instance.sh wait DIR [SECONDS]           wait for the user data to end (default 300)
#   boot-instance.sh exec DIR CMD [ARG...]        run a command inside the running instance
#   boot-instance.sh stop DIR                     kill everything, remove everything
#   boot-instance.sh stop-all                     stop every instance under the state parent
#
# ROOT is a tarball (make-root.sh's) or a directory. DIR is the INSTANCE_DIR that `up`
# printed. Facts are printed as KEY=VALUE lines on stdout; progress goes to stderr.
# Environment: INSTANCE_ID (run/start; default i-e2e + 16 hex digits),
# E2E_INSTANCES_DIR (where instance directories go; default ${TMPDIR:-/tmp}/dstack-e2e).
# (Pipelines test with `grep ... >/dev/null`, not `grep -q`: under pipefail, grep -q ending
# first would fail its producer with SIGPIPE and turn a match into a miss.)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
instances_parent=${E2E_INSTANCES_DIR:-${TMPDIR:-/tmp}/dstack-e2e}
net_lock=/run/lock/dstack-e2e-net.lock
proxy_port=3142
imds_address=169.254.169.254
user_data_in_root=/var/lib/cloud/instance/scripts/part-001

die() { echo "boot-instance.sh: $*" >&2; exit 1; }
log() { echo "boot-instance: $*" >&2; }
usage() { sed -n '8,20p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# --- Facts about an instance: KEY=VALUE in DIR/instance.env, printed and sourced. -----

fact() { # KEY VALUE: record and print
    printf '%s=%q\n' "$1" "$2" >>"$dir/instance.env"
    printf '%s=%s\n' "$1" "$2"
}

load() { # DIR
    dir=$(cd "$1" 2>/dev/null && pwd) || die "no instance directory $1"
    [ -f "$dir/instance.env" ] || die "$dir is not an instance directory (no instance.env)"
    # shellcheck disable=SC1091
    . "$dir/instance.env"
}

# Running, not a zombie waiting for this machine's init to reap it.
alive() {
    local stat
    [ -n "${1:-}" ] && stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# A PID from a file, only while it still runs the program named (PIDs get reused).
pid_of() { # FILE PATTERN
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && grep -qa -- "$2" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

wait_gone() { # SECONDS PID...
    local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )) pid left
    shift
    while :; do
        left=0
        for pid in "$@"; do alive "$pid" && left=1; done
        [ "$left" = 0 ] && return 0
        [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

# Starts a long-lived process in the background in a session of its own, with stdin from
# /dev/null, stdout and stderr to LOG, and none of the other descriptors this script
# inherited (a caller's pipe held open by the instance would never see its end). $! is
# the process's PID.
spawn() { # LOG COMMAND...
    local log=$1 fd
    shift
    (
        for fd in /proc/$BASHPID/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
        done
        exec setsid "$@" </dev/null >"$log" 2>&1
    ) &
}

wait_port() { # ADDRESS PORT SECONDS [NETNS]
    local _
    for _ in $(seq $(( $3 * 20 ))); do
        if [ -n "${4:-}" ]; then
            ip netns exec "$4" bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
        else
            bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
        fi
        sleep 0.05
    done
    return 1
}

# --- up ---------------------------------------------------------------------------------

# Claims a free /30 in 10.213.0.0/16 and makes the namespace and veth pair, under a lock
# so that instances booted at the same time get different ones.
claim_network() {
    local octet
    mkdir -p "$(dirname "$net_lock")"
    exec 8>"$net_lock"
    flock 8
    for octet in $(seq 1 254); do
        ip netns list | grep -w "dstack-e2e-$octet" >/dev/null && continue
        ip link show "dse2e-$octet-h" >/dev/null 2>&1 && continue
        [ -e "$instances_parent/dstack-e2e-$octet" ] && continue
        ip -4 -o addr show | grep " 10\.213\.$octet\." >/dev/null && continue
        # A listener left bound on that address by an earlier test would answer in place
        # of this test's server.
        ss -Hltn "src 10.213.$octet.1" 2>/dev/null | grep . >/dev/null && continue
        # Nothing on this host may already route there (other than the default route).
        ip -4 route show to match "10.213.$octet.1" | grep -v '^default' >/dev/null && continue
        net_octet=$octet
        break
    done
    [ -n "${net_octet:-}" ] || { exec 8>&-; die "no free 10.213.X.0/30 subnet left"; }
    name=dstack-e2e-$net_octet
    dir=$instances_parent/$name
    mkdir -p "$dir"
    : >"$dir/instance.env"
    host_if=dse2e-$net_octet-h
    inst_if=dse2e-$net_octet-i
    host_address=10.213.$net_octet.1
    instance_address=10.213.$net_octet.2
    fact INSTANCE_DIR "$dir"
    fact INSTANCE_NAME "$name"
    fact INSTANCE_NETNS "$name"
    fact HOST_INTERFACE "$host_if"
    fact HOST_ADDRESS "$host_address"
    fact INSTANCE_ADDRESS "$instance_address"
    ip netns add "$name"
    # What `ip netns exec` shows as /etc/resolv.conf to the host programs run there (the
    # metadata service): no resolver, so nothing asks the host's DNS from the instance.
    mkdir -p "/etc/netns/$name"
    echo "nameserver 127.0.0.1" >"/etc/netns/$name/resolv.conf"
    ip link add "$host_if" type veth peer name "$inst_if"
    ip link set "$inst_if" netns "$name"
    ip addr add "$host_address/30" dev "$host_if"
    ip link set "$host_if" up
    exec 8>&-
    ip -n "$name" link set lo up
    ip -n "$name" addr add "$instance_address/30" dev "$inst_if"
    ip -n "$name" link set "$inst_if" up
    ip -n "$name" route add default via "$host_address"
    # The metadata service's link-local address, on the instance's own loopback.
    ip -n "$name" addr add "$imds_address/32" dev lo
}

# The hosts of Debian's mirror as this host's apt reaches it: the only hosts the proxy
# lets the instance reach.
mirror_hosts() {
    local hosts
    hosts=$(sed -n 's|^URIs:[[:space:]]*||p; s|^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]*\)\{0,1\}||p' \
                /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
            | tr ' ' '\n' | sed -n 's|^https\{0,1\}://\([^/:]*\).*|\1|p' | sort -u | grep -i debian || true)
    echo "${hosts:-deb.debian.org}"
}

configure_root() {
    local root=$1 hostname=$2
    # No resolver: the instance reaches the server by address and the mirror through the
    # proxy, which resolves it. A loopback nameserver with nothing behind it fails fast.
    rm -f "$root/etc/resolv.conf"
    printf 'nameserver 127.0.0.1\n' >"$root/etc/resolv.conf"
    echo "$hostname" >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n' \
        "$instance_address" "$hostname" >"$root/etc/hosts"
    {
        echo "// The instance's network has no NAT: Debian's mirror only, through this proxy."
        echo "Acquire::http::Proxy \"http://$host_address:$proxy_port/\";"
        # The mirror this machine reaches may serve a dated snapshot, whose Release files
        # are past their Valid-Until; the host's apt is told to accept them, so is this.
        if apt-config dump 2>/dev/null | grep '^Acquire::Check-Valid-Until "false"' >/dev/null; then
            echo 'Acquire::Check-Valid-Until "false";'
        fi
    } >"$root/etc/apt/apt.conf.d/90instance-network"
    # The image's init (instance-init.py here, systemd on a real image) powers off on
    # these; minbase has neither command.
    local command
    for command in shutdown poweroff halt; do
        if [ ! -e "$root/usr/sbin/$command" ] && [ ! -e "$root/sbin/$command" ]; then
            printf '#!/bin/sh\n# Test harness: ask the instance'"'"'s init to power off.\nkill -TERM 1\n' \
                >"$root/usr/sbin/$command"
            chmod 0755 "$root/usr/sbin/$command"
        fi
    done
}

cmd_up() {
    [ $# = 1 ] || usage
    local source=$1 root hosts
    [ -e "$source" ] || die "no root $source (make one with make-root.sh)"
    [ -x "$python" ] || die "$python is missing (apt-get install python3)"
    mkdir -p "$instances_parent"
    trap 'rc=$?; if [ $rc != 0 ] && [ -n "${dir:-}" ]; then cmd_stop "$dir" >/dev/null 2>&1 || true; fi' EXIT
    claim_network
    root=$dir/root
    fact INSTANCE_ROOT "$root"
    mkdir "$root"
    if [ -d "$source" ]; then
        tar --numeric-owner -C "$source" -cpf - . | tar --numeric-owner -C "$root" -xpf -
    else
        tar --numeric-owner -C "$root" -xpf "$source"
    fi
    local hostname="ip-${instance_address//./-}"
    fact INSTANCE_HOSTNAME "$hostname"
    configure_root "$root" "$hostname"

    hosts=$(mirror_hosts | tr '\n' ' ')
    spawn "$dir/proxy.stderr" "$python" "$here/apt-proxy.py" "$host_address" "$proxy_port" "$dir/proxy.log" $hosts
    echo $! >"$dir/proxy.pid"
    wait_port "$host_address" "$proxy_port" 10 || die "the apt proxy did not start: $(cat "$dir/proxy.stderr")"
    fact APT_PROXY "http://$host_address:$proxy_port"
    fact PROXY_LOG "$dir/proxy.log"
    trap - EXIT
}

# --- run --------------------------------------------------------------------------------

cmd_run() {
    [ $# -ge 2 ] || usage
    load "$1"
    local user_data=$2 pair instance_id=${INSTANCE_ID:-i-e2e$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')}
    shift 2
    [ -r "$user_data" ] || die "cannot read user data $user_data"
    [ ! -e "$dir/init.pid" ] || die "$dir already ran its user data; boot a new instance"
    install -D -m 0700 "$user_data" "$INSTANCE_ROOT$user_data_in_root"
    : >"$dir/env"
    for pair in "$@"; do
        [[ "$pair" == [A-Za-z_]*=* ]] || die "not KEY=VALUE: $pair"
        [[ "$pair" != *$'\n'* ]] || die "a value has a newline: ${pair%%=*}"
        echo "$pair" >>"$dir/env"
    done

    spawn "$dir/imds.stderr" ip netns exec "$INSTANCE_NETNS" "$python" "$here/imds.py" "$imds_address" 80 \
        "$instance_id" "$INSTANCE_ADDRESS" "$INSTANCE_HOSTNAME"
    echo $! >"$dir/imds.pid"
    wait_port "$imds_address" 80 10 "$INSTANCE_NETNS" || die "the metadata service did not start: $(cat "$dir/imds.stderr")"

    # PID 1 of the instance: its own mount, PID and UTS namespaces inside the network
    # namespace; --kill-child ends the instance when this unshare is killed.
    spawn "$dir/user-data.log" ip netns exec "$INSTANCE_NETNS" \
        unshare --mount --propagation private --pid --fork --kill-child --uts \
        "$python" "$here/instance-init.py" "$INSTANCE_ROOT" "$dir" "$INSTANCE_HOSTNAME" \
        "$user_data_in_root" "$dir/env"
    echo $! >"$dir/init.pid"
    local _
    for _ in $(seq 200); do
        [ -f "$dir/init.ready" ] && break
        alive "$(cat "$dir/init.pid")" || die "the instance did not start: $(tail -n 5 "$dir/user-data.log")"
        sleep 0.05
    done
    [ -f "$dir/init.ready" ] || die "the instance did not start within 10 s"
    fact INSTANCE_ID "$instance_id"
    fact INSTANCE_PID "$(cat "$dir/init.pid")"
    fact USER_DATA_LOG "$dir/user-data.log"
    fact USER_DATA_EXIT_FILE "$dir/user-data.exit"
}

cmd_start() {
    [ $# -ge 2 ] || usage
    local root=$1 user_data=$2 out
    shift 2
    out=$(cmd_up "$root") || exit 1
    echo "$out"
    local instance_dir
    instance_dir=$(sed -n 's/^INSTANCE_DIR=//p' <<<"$out")
    ( cmd_run "$instance_dir" "$user_data" "$@" ) || { cmd_stop "$instance_dir" >/dev/null 2>&1; exit 1; }
}

# --- status, wait, exec -----------------------------------------------------------------

cmd_status() {
    [ $# = 1 ] || usage
    load "$1"
    local state code=""
    if [ ! -f "$dir/init.pid" ]; then
        state=up
    elif pid_of "$dir/init.pid" unshare >/dev/null; then
        state=running
    else
        state=stopped  # powered off, or killed
    fi
    [ -f "$dir/user-data.exit" ] && code=$(cat "$dir/user-data.exit")
    echo "STATE=$state"
    echo "USER_DATA_EXIT=$code"
}

cmd_wait() {
    [ $# -ge 1 ] && [ $# -le 2 ] || usage
    load "$1"
    local seconds=${2:-300}
    for _ in $(seq $(( seconds * 10 ))); do
        if [ -f "$dir/user-data.exit" ]; then
            echo "USER_DATA_EXIT=$(cat "$dir/user-data.exit")"
            return 0
        fi
        pid_of "$dir/init.pid" unshare >/dev/null || die "the instance stopped before its user data ended"
        sleep 0.1
    done
    die "the user data did not end within $seconds s"
}

# PID 1 of the instance, as the host sees it: the child of its unshare.
instance_init_pid() {
    local unshare_pid
    unshare_pid=$(pid_of "$dir/init.pid" unshare) || return 1
    cat "/proc/$unshare_pid/task/$unshare_pid/children" 2>/dev/null | awk '{print $1}'
}

cmd_exec() {
    [ $# -ge 2 ] || usage
    load "$1"
    shift
    local init
    init=$(instance_init_pid) && [ -n "$init" ] || die "the instance is not running"
    exec nsenter --target "$init" --mount --uts --net --pid -- \
        chroot "$INSTANCE_ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 "$@"
}

# --- stop -------------------------------------------------------------------------------

cmd_stop() {
    [ $# = 1 ] || usage
    if [ ! -e "$1" ]; then  # stopped before: stopping is idempotent
        log "$1 is already gone"
        return 0
    fi
    load "$1"
    local unshare_pid init pid pids=()
    # The instance: TERM to its init, which passes it on to every process, then KILL.
    # Killing PID 1 of a PID namespace kills every process in it.
    if unshare_pid=$(pid_of "$dir/init.pid" unshare); then
        init=$(instance_init_pid || true)
        [ -n "$init" ] && kill -TERM "$init" 2>/dev/null || true
        if ! wait_gone 4 "$unshare_pid"; then
            [ -n "$init" ] && kill -KILL "$init" 2>/dev/null || true
            kill -KILL "$unshare_pid" 2>/dev/null || true
            wait_gone 5 "$unshare_pid" || log "the instance's unshare ($unshare_pid) did not end"
        fi
    fi
    # Anything else that entered the network namespace (the metadata service, `exec`s).
    if ip netns list | grep -w "$INSTANCE_NETNS" >/dev/null; then
        for pid in $(ip netns pids "$INSTANCE_NETNS" 2>/dev/null); do
            kill -KILL "$pid" 2>/dev/null || true
            pids+=("$pid")
        done
        [ ${#pids[@]} = 0 ] || wait_gone 5 "${pids[@]}" || log "processes left in $INSTANCE_NETNS: $(ip netns pids "$INSTANCE_NETNS" | tr '\n' ' ')"
    fi
    if pid=$(pid_of "$dir/proxy.pid" apt-proxy.py); then
        kill -TERM "$pid" 2>/dev/null || true
        wait_gone 2 "$pid" || kill -KILL "$pid" 2>/dev/null || true
    fi
    ip link del "$HOST_INTERFACE" 2>/dev/null || true  # takes its peer with it
    ip netns del "$INSTANCE_NETNS" 2>/dev/null || true
    rm -rf "/etc/netns/$INSTANCE_NETNS"
    rmdir /etc/netns 2>/dev/null || true  # only when no other namespace has files there
    # The instance's mounts lived in its own mount namespace and went with it; should
    # anything still be mounted under the directory, unmount it rather than delete
    # through it.
    local target
    while read -r target; do
        umount -l "$target" 2>/dev/null || true
    done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r)
    if findmnt -rn -o TARGET | grep -F "$dir/" >/dev/null; then
        die "mounts remain under $dir; not deleting it"
    fi
    rm -rf --one-file-system "$dir"
    echo "STOPPED=$INSTANCE_NAME"
}

cmd_stop_all() {
    local d rc=0
    for d in "$instances_parent"/dstack-e2e-*; do
        [ -f "$d/instance.env" ] || continue
        ( cmd_stop "$d" ) || rc=1
    done
    return $rc
}

[ $# -ge 1 ] || usage
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, chroot)"
command=$1
shift
case "$command" in
    up) cmd_up "$@" ;;
    run) cmd_run "$@" ;;
    start) cmd_start "$@" ;;
    status) cmd_status "$@" ;;
    wait) cmd_wait "$@" ;;
    exec) cmd_exec "$@" ;;
    stop) cmd_stop "$@" ;;
    stop-all) [ $# = 0 ] || usage; cmd_stop_all ;;
    -h|--help|help) usage ;;
    *) usage ;;
esac
