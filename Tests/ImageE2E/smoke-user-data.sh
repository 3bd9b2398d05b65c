#!/bin/sh
# The smoke test's user data: what a dstack bootstrap does on a stock image, minus
# dstack. It installs a missing library from Debian's mirror, learns its ID from the
# metadata service, downloads a file from the host, and leaves a process running.
# SERVER_URL comes from the harness (boot-instance.sh run ... SERVER_URL=...).
set -eu
started=$(date +%s.%N)
elapsed() { echo "$(date +%s.%N) $1" | awk '{printf "%.2f", $1 - $2}'; }
echo "up as $(hostname)"
export DEBIAN_FRONTEND=noninteractive

if getent hosts deb.debian.org >/dev/null; then echo "CHECK dns-absent FAIL"; else echo "CHECK dns-absent ok"; fi
if command -v swift >/dev/null; then echo "CHECK no-swift FAIL"; else echo "CHECK no-swift ok"; fi
if dpkg-query -W libjansson4 >/dev/null 2>&1; then echo "CHECK jansson-missing FAIL"; else echo "CHECK jansson-missing ok"; fi

apt_started=$(date +%s.%N)
for _ in 1 2 3; do
    apt-get update -q && apt-get install -y -q --no-install-recommends libjansson4 && break
    sleep 2
done
echo "TIME apt-install $(elapsed "$apt_started")"
dpkg-query -W libjansson4 >/dev/null && echo "CHECK jansson-installed ok"

token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
id=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
echo "CHECK imds-instance-id $id"
v1=$(curl -s -o /dev/null -w '%{http_code}' http://169.254.169.254/latest/meta-data/instance-id)
[ "$v1" = 401 ] && echo "CHECK imdsv1-refused ok"

curl -fsS "$SERVER_URL/payload.txt" -o /root/payload.txt && echo "CHECK host-server ok"
# Anything but Debian's mirror is refused at the proxy (which then sends nothing out).
other=$(curl -s -o /dev/null -w '%{http_code}' -x "$(apt-config dump | sed -n 's/^Acquire::http::Proxy "\(.*\)";/\1/p')" http://example.org/)
[ "$other" = 403 ] && echo "CHECK proxy-refuses-others ok"

echo "$id $(cat /root/payload.txt)" >/root/result.txt
# A process that outlives the user data and ignores SIGTERM, as a stubborn runner might:
# stopping the instance must still end it.
nohup sh -c 'trap "" TERM; while :; do sleep 1; done' >/dev/null 2>&1 &
echo "TIME user-data $(elapsed "$started")"
