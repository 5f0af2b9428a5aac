// A bare mDNS querier for the lab: asks one question with the QU bit from
// ADDRESS:5353, optionally listing one known PTR answer, and prints the
// unicast replies that reach ADDRESS (the socket is bound to the unicast
// address and joins no group, so multicast replies never arrive here).
//   node mdns-ask.mjs ADDRESS NAME TYPE [KNOWN_PTR_TARGET]
import { createSocket } from "node:dgram";
import { encodeMdnsQuery } from "../../dist/src/wire/mdns.js";
import { decodeMessage } from "../../dist/src/wire/decode.js";
import { formatName, parseName } from "../../dist/src/names.js";

const [address, name, type, known] = process.argv.slice(2);
const qtype = { PTR: 12, SRV: 33, A: 1, TXT: 16 }[type];
const sock = createSocket({ type: "udp4", reuseAddr: true });
sock.on("message", (buf, from) => {
  const m = decodeMessage(buf);
  console.log(JSON.stringify({ from: from.address, answers: m.answers.map((r) => `${formatName(r.name)} ${r.type}`) }));
});
sock.bind(5353, address, () => {
  const knownAnswers = known
    ? [{ name: parseName(name), ttl: 4500, data: { type: 12, target: parseName(known) } }]
    : [];
  for (const packet of encodeMdnsQuery([{ name: parseName(name), type: qtype, qu: true }], knownAnswers))
    sock.send(packet, 5353, "224.0.0.251");
  setTimeout(() => sock.close(), 1200);
});
