#!/usr/bin/python3
"""A python-zeroconf peer for the mDNS lab (Debian's python3-zeroconf).

  IFACE_ADDR is the lab host's IPv4 address, or "v6" for IPv6 only (all interfaces).

  zeroconf_peer.py IFACE_ADDR register TYPE NAME PORT ADDRESS [key=value ...]
      registers, prints {"event": "registered", "name": ...}, unregisters
      (goodbye) when a line or EOF arrives on stdin
  zeroconf_peer.py IFACE_ADDR register-subtype SUBTYPE TYPE NAME PORT ADDRESS
      as register, with the service's type given as SUBTYPE._sub.TYPE: python-zeroconf
      then answers and enumerates the subtype name only, never TYPE itself
  zeroconf_peer.py IFACE_ADDR browse TYPE SECONDS
      prints {"event": "added"|"removed", "name", "port", "addresses", "txt"} lines
  zeroconf_peer.py IFACE_ADDR churn TYPE COUNT SECONDS
      keeps COUNT services of TYPE registered, replacing one (goodbye, then a new
      one) every half second, for SECONDS; prints {"event": "churned", "changes": N}
"""
import json, socket, sys, time
from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, Zeroconf

def say(**kw):
    print(json.dumps(kw), flush=True)

iface, cmd = sys.argv[1], sys.argv[2]
zc = Zeroconf(ip_version=IPVersion.V6Only) if iface == "v6" else Zeroconf(interfaces=[iface])
if cmd in ("register", "register-subtype"):
    sub = sys.argv.pop(3) if cmd == "register-subtype" else None
    stype, name, port, address = sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
    props = dict(kv.split("=", 1) for kv in sys.argv[7:])
    packed = socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
    listed = f"{sub}._sub.{stype}.local." if sub else f"{stype}.local."
    info = ServiceInfo(listed, f"{name}.{stype}.local.", addresses=[packed], port=port, properties=props, server=f"{name.lower().replace(' ', '-')}.local.")
    zc.register_service(info)
    say(event="registered", name=info.name)
    sys.stdin.readline()
    zc.unregister_service(info)
    say(event="unregistered", name=info.name)
elif cmd == "browse":
    stype, seconds = sys.argv[3], float(sys.argv[4])
    class Listener:
        def add_service(self, z, t, n):
            i = z.get_service_info(t, n, timeout=2000)
            say(event="added", name=n, port=i and i.port, addresses=i and i.parsed_addresses(), txt=i and {k.decode(): (v or b"").decode() for k, v in i.properties.items()})
        def update_service(self, *a):
            pass
        def remove_service(self, z, t, n):
            say(event="removed", name=n)
    ServiceBrowser(zc, f"{stype}.local.", Listener())
    time.sleep(seconds)
elif cmd == "churn":
    stype, count, seconds = sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    packed = socket.inet_aton(iface if iface != "v6" else "192.0.2.1")
    def info(n):
        return ServiceInfo(f"{stype}.local.", f"svc-{n}.{stype}.local.", addresses=[packed], port=9000 + n % 1000, properties={"n": str(n)}, server=f"churn-{n}.local.")
    live = [info(n) for n in range(count)]
    for i in live:
        zc.register_service(i)
    n, changes, end = count, 0, time.time() + seconds
    while time.time() < end:
        time.sleep(0.5)
        zc.unregister_service(live.pop(0))
        live.append(info(n))
        zc.register_service(live[-1])
        n, changes = n + 1, changes + 1
    for i in live:
        zc.unregister_service(i)
    say(event="churned", changes=changes)
zc.close()
