#!/usr/bin/env bash
# Three ringdns daemons sharing one registry through etcd, on this machine:
# etcd on 127.0.0.1:2379, daemons on 127.0.0.1:8053, :8054 and :8055.
# A registration sent to one daemon is answered by all three.
#   bash examples/cluster/run.sh        (needs Debian's etcd-server, dig, nsupdate; Ctrl-C stops all)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT INT TERM

etcd --name one --data-dir "$data/etcd" \
  --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
  --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
  --initial-cluster one=http://127.0.0.1:2380 --logger zap --log-level error &
pids+=($!)
until etcdctl --endpoints http://127.0.0.1:2379 endpoint health >/dev/null 2>&1; do sleep 0.2; done

for port in 8053 8054 8055; do
  node dist/bin/ringdns.js serve --dns "127.0.0.1:$port" --domain svc.example. \
    --store etcd://127.0.0.1:2379/ringdns/ --log-level warn &
  pids+=($!)
done
for port in 8053 8054 8055; do
  until dig @127.0.0.1 -p "$port" +time=1 +tries=1 svc.example SOA +short >/dev/null 2>&1; do sleep 0.2; done
done

echo "registering web-1 on the daemon at :8053"
nsupdate <<UPD
server 127.0.0.1 8053
zone svc.example.
update add _http._tcp.svc.example. 60 PTR web-1._http._tcp.svc.example.
update add web-1._http._tcp.svc.example. 60 SRV 0 1 8080 web-1.svc.example.
update add web-1.svc.example. 60 A 192.0.2.31
send
UPD
for port in 8053 8054 8055; do
  echo "daemon :$port answers: $(dig @127.0.0.1 -p "$port" +short web-1._http._tcp.svc.example SRV)"
done
echo "and agrees on ring owners: $(dig @127.0.0.1 -p 8054 +short user42._hash._http._tcp.svc.example SRV)"
echo "running; Ctrl-C stops etcd and the daemons"
wait
