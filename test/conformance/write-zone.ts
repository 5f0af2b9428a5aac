// Writes the conformance data set for a server other than knotd:
//   npx tsx test/conformance/write-zone.ts DIR
// leaves DIR/services.json (what ringdns serves) and DIR/svc.example.zone
// (the same records as a zone file, SOA serial 1). Serve the zone on
// 127.0.0.1, then run the suite with CONFORMANCE_REFERENCE_PORT=<its port>.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { writeServicesFile, writeZoneFile } from "./dataset.js";

const dir = resolve(process.argv[2] ?? "conformance-data");
mkdirSync(dir, { recursive: true });
console.log(writeServicesFile(dir));
console.log(writeZoneFile(dir, { serial: 1, minimum: 5 }));
