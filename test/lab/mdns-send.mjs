// Sends prepared mDNS packets onto the lab's LAN from ADDRESS, as a hostile
// or broken peer would: each to the group 224.0.0.251:5353, from port 5353
// (a peer's responses and queries) or, when the packet's flag says so, from
// an ephemeral port (a legacy unicast querier, RFC 6762 §6.7). Runs inside a
// lab namespace only (test/lab/netns.ts), never on a real interface.
//   node mdns-send.mjs ADDRESS[,ADDRESS...] FILE [PAUSE_EVERY]
// With several addresses (all on the host's interface), packets go out from
// each in turn, as from several peers.
// FILE: packets one after another, each as flag (1 byte: 0 from 5353, 1 from
// an ephemeral port), length (2 bytes, big-endian), bytes. Every PAUSE_EVERY
// packets (default 50) it waits a millisecond, so the receiver's socket
// buffer is not what drops them. Prints {"sent": N} when done.
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";

const [addressList, file, pauseArg] = process.argv.slice(2);
const addresses = addressList.split(",");
const pauseEvery = Number(pauseArg ?? 50);
const data = readFileSync(file);
const bound = (address, port) =>
  new Promise((resolve) => {
    const s = createSocket({ type: "udp4", reuseAddr: true });
    s.on("error", () => {}); // a refused send is not the test's business
    s.bind(port, address, () => {
      s.setMulticastInterface(address);
      s.setMulticastTTL(255);
      resolve(s);
    });
  });
const sockets = await Promise.all(addresses.map(async (a) => [await bound(a, 5353), await bound(a, 0)]));
const send = (s, m) => new Promise((resolve) => s.send(m, 5353, "224.0.0.251", () => resolve()));
let sent = 0;
for (let off = 0; off + 3 <= data.length; ) {
  const flag = data[off];
  const len = data.readUInt16BE(off + 1);
  const m = data.subarray(off + 3, off + 3 + len);
  off += 3 + len;
  const [peer, legacy] = sockets[sent % sockets.length];
  await send(flag === 1 ? legacy : peer, m);
  if (++sent % pauseEvery === 0) await new Promise((r) => setTimeout(r, 1));
}
console.log(JSON.stringify({ sent }));
for (const pair of sockets) for (const s of pair) s.close();
