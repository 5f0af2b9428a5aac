// A direct unicast query to port 5353 (RFC 6762 §5.5, a legacy querier from an
// ephemeral port), sent from SOURCE to DEST, inside a lab namespace; prints
// {"replies": N, "answers": [...]} 100 ms after the first reply, or after
// WAIT_MS (default 1500) without one.
//   node mdns-unicast-ask.mjs SOURCE DEST NAME TYPE [WAIT_MS]
import { createSocket } from "node:dgram";
import { decodeMessage } from "../../dist/src/wire/decode.js";
import { encodeQuery } from "../../dist/src/wire/message.js";
import { formatName, parseName } from "../../dist/src/names.js";

const [source, dest, name, type, wait] = process.argv.slice(2);
const qtype = { PTR: 12, SRV: 33, A: 1, TXT: 16 }[type];
const sock = createSocket("udp4");
const answers = [];
let replies = 0;
let done;
const finish = () => {
  clearTimeout(done);
  console.log(JSON.stringify({ replies, answers }));
  sock.close();
};
sock.on("message", (buf) => {
  if (replies++ === 0) {
    clearTimeout(done);
    done = setTimeout(finish, 100);
  }
  try {
    for (const r of decodeMessage(buf).answers) answers.push(`${formatName(r.name)} ${r.type}`);
  } catch {
    answers.push("undecodable");
  }
});
sock.bind(0, source, () => {
  sock.send(encodeQuery(0x1234, parseName(name), qtype), 5353, dest);
  done = setTimeout(finish, Number(wait ?? 1500));
});
