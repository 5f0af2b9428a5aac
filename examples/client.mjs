// The ringdns client library: register a service (leased, renewed), find
// services, and ask the ring which instance owns a key.
//
//   npx ringdns serve --dns 127.0.0.1:8053 --data-dir /tmp/ringdns-example &
//   node examples/client.mjs [127.0.0.1:8053]
import { browse, ownerOf, register, resolve } from "ringdns";

const [host, port] = (process.argv[2] ?? "127.0.0.1:8053").split(":");
const server = { host, port: Number(port) };

// Two cache nodes register themselves; unsigned updates are accepted from
// loopback by default (pass `key: loadKeyFile("update.key")[0]` otherwise).
const nodes = await Promise.all(
  ["cache-a", "cache-b"].map((name, i) =>
    register(
      {
        instance: name,
        type: "_cache._tcp",
        host: name,
        addresses: [`192.0.2.${20 + i}`],
        port: 11211,
        txt: { version: "1.4" },
      },
      { server, lease: 30 }, // renewed at 75% of the lease until close()
    ),
  ),
);
console.log(`registered ${nodes.length} instances, lease ${nodes[0].lease}s`);

for (const s of await browse("_cache._tcp", { server }))
  console.log(`found ${s.instance} at ${s.target}:${s.port} [${s.addresses.join(" ")}] ${s.txt.join(" ")}`);
const one = await resolve("_cache._tcp", "cache-a", { server }); // undefined when there is no such instance
console.log(`cache-a resolves to ${one.addresses[0]}:${one.port}`);

// Every client asking for the same key gets the same owner: shard by DNS.
for (const key of ["user:42", "user:43", "cart:7"]) {
  const owner = await ownerOf("_cache._tcp", key, { server });
  console.log(`key ${key} -> ${owner.instance}`);
}

await Promise.all(nodes.map((n) => n.close())); // deregister
console.log("deregistered");
