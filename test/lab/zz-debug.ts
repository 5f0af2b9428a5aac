import { createLab } from "./netns.js";
import { CLI } from "./daemon.js";
const lab = createLab(2);
const [h0, h1] = lab.hosts;
const PEER = "/work/main/test/lab/zeroconf_peer.py";
const zc = h1!.spawn(
  "/usr/bin/python3",
  [PEER, h1!.address, "register-subtype", "_mono", "_scan._tcp", "Mono Printer", "631", "192.0.2.63"],
  { stdio: ["pipe", "pipe", "pipe"] },
);
await new Promise((r) => setTimeout(r, 1500));
const d = h0!.spawn(process.execPath, [
  CLI,
  "serve",
  "--dns",
  "127.0.0.1:8053",
  "--mdns-interface",
  "eth0",
  "--store",
  "memory",
  "--log-level",
  "debug",
]);
let logs = "";
d.stderr!.on("data", (x) => (logs += x));
await new Promise((r) => setTimeout(r, 2500));
const t0 = Date.now();
const r = h0!.run("dig", ["@127.0.0.1", "-p", "8053", "+time=5", "+tries=1", "_mono._sub._scan._tcp.local", "PTR"]);
console.log(
  Date.now() - t0,
  r.stdout
    .split("\n")
    .filter((l) => l && !l.startsWith(";"))
    .join("\n"),
);
const r2 = h0!.run("dig", ["@127.0.0.1", "-p", "8053", "+time=5", "+tries=1", "_mono._sub._scan._tcp.local", "PTR"]);
console.log(
  r2.stdout
    .split("\n")
    .filter((l) => l && !l.startsWith(";"))
    .join("\n"),
);
console.log(
  logs
    .split("\n")
    .filter((l) => /mDNS|proxy|mono|scan/i.test(l))
    .slice(-20)
    .join("\n"),
);
zc.stdin!.write("\n");
await new Promise((r) => setTimeout(r, 300));
await lab.destroy();
