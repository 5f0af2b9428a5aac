// Zone transfers out (AXFR, RFC 5936; IXFR, RFC 1995) over TCP: who may
// transfer (--allow-transfer sources, or a TSIG key named by --transfer-key),
// how many at once (--max-transfers), and the messages each sends. The
// messages are made lazily from one snapshot of the zone (answer/zone.ts), so
// the TCP connection writes one, waits for the socket to drain, and makes the
// next: a zone of 100,000 registrations neither blocks the event loop nor
// sits in memory encoded.
import type { Logger } from "pino";
import { errorResponse, type AnswerOptions } from "../answer/answer.js";
import type { JournalStep, ZoneJournals } from "../answer/journal.js";
import { compareSerial } from "../registry/serial.js";
import { zoneRecords, zoneSnapshot, zoneSoa, type TransferOptions } from "../answer/zone.js";
import type { Clock } from "../clock.js";
import type { QueryMetrics } from "../metrics.js";
import { formatName, labelsEqual, type Labels } from "../names.js";
import type { Registry } from "../registry/registry.js";
import { Class, Opcode, Rcode, Type } from "../wire/constants.js";
import { encodeResponse, type ResourceRecord } from "../wire/message.js";
import { decodeQuery } from "../wire/query.js";
import { ixfrClientSerial, packTransfer } from "../wire/transfer.js";
import { replyStreamSigner, tsigLength, type TsigKey } from "../wire/tsig.js";
import { authenticate } from "./auth-stage.js";
import { addressOf } from "./peer.js";

export interface TransferDeps {
  registry: Registry;
  answer: AnswerOptions;
  clock: Clock;
  log: Logger;
  /** The loaded TSIG keys (they change on reload). */
  keys: () => readonly TsigKey[];
  /** Sources that may transfer unsigned (--allow-transfer). */
  allowFrom: (address: string) => boolean;
  /** Keys (presentation, lower-case, trailing dot) whose signed requests may transfer (--transfer-key). */
  transferKeys: ReadonlySet<string>;
  /** Transfers under way at most; beyond, REFUSED (--max-transfers). */
  maxTransfers: number;
  transfer: TransferOptions;
  /** IXFR's journals; without them every IXFR gets a full transfer. */
  journals?: ZoneJournals;
  metrics?: QueryMetrics;
  /** Transfers under way now (shared by every listener). */
  active: { count: number };
}

/** Is `msg` a request for AXFR or IXFR (a query, QDCOUNT 1, that type)? Read from the header and question only. */
export function isTransferRequest(msg: Buffer): boolean {
  if (msg.length < 17 || msg[2]! & 0x80 || ((msg[2]! >> 3) & 0xf) !== Opcode.QUERY || msg.readUInt16BE(4) !== 1)
    return false;
  let off = 12;
  while (off < msg.length && msg[off]! !== 0) {
    if ((msg[off]! & 0xc0) !== 0) return false; // a question name has no pointer
    off += msg[off]! + 1;
  }
  if (off + 5 > msg.length) return false;
  const type = msg.readUInt16BE(off + 1);
  return type === Type.AXFR || type === Type.IXFR;
}

/** What a transfer request gets: one reply (a refusal, an up-to-date SOA), or a stream of messages. */
export type TransferStart =
  | { kind: "reply"; reply: Buffer | null }
  | {
      kind: "stream";
      messages: Iterator<Buffer>;
      done: (sent: { messages: number; bytes: number }, aborted: boolean) => void;
    };

export function startTransfer(msg: Buffer, peer: string, deps: TransferDeps): TransferStart {
  const decoded = decodeQuery(msg);
  if (decoded.kind === "drop") return { kind: "reply", reply: null };
  if (decoded.kind === "error")
    return {
      kind: "reply",
      reply: encodeResponse(errorResponse(decoded.id, decoded.opcode, decoded.rd, decoded.rcode)),
    };
  const q = decoded.query;
  const kind = q.question.type === Type.AXFR ? "AXFR" : "IXFR";
  const refuse = (rcode: number = Rcode.REFUSED) =>
    encodeResponse({ ...errorResponse(q.id, q.opcode, q.rd, rcode), question: q.question });
  const nowSec = () => Math.floor(deps.clock.now() / 1000);
  const zoneText = formatName(q.question.name);
  const auth = authenticate(msg, q, {
    keys: deps.keys(),
    nowSec: nowSec(),
    refusal: refuse,
    log: deps.log,
    fields: { peer, zone: zoneText, kind },
    what: "zone transfer refused",
  });
  if (auth.kind === "refused") {
    deps.metrics?.observeTransfer("refused");
    return { kind: "reply", reply: auth.reply };
  }
  const keyName = auth.kind === "signed" ? formatName(auth.signer.key.name) : undefined;
  const allowed =
    (keyName !== undefined && deps.transferKeys.has(keyName.toLowerCase())) || deps.allowFrom(addressOf(peer));
  const zone = deps.answer.domains.find((d) => labelsEqual(d, q.question.name));
  const sign = auth.kind === "signed" ? (wire: Buffer) => auth.sign(wire) : (wire: Buffer) => wire;
  if (!allowed || !zone || q.question.class !== Class.IN) {
    deps.metrics?.observeTransfer("refused");
    deps.log.info(
      { peer, zone: zoneText, kind, ...(keyName ? { key: keyName } : {}) },
      !allowed
        ? "zone transfer refused: neither the source (--allow-transfer) nor a key (--transfer-key) allows it"
        : "zone transfer refused: not a zone served here",
    );
    return { kind: "reply", reply: sign(refuse()) };
  }
  if (deps.active.count >= deps.maxTransfers) {
    deps.metrics?.observeTransfer("limit");
    deps.metrics?.observeLimit("transfers");
    deps.log.warn(
      { peer, zone: zoneText, kind, max: deps.maxTransfers },
      "zone transfer refused: --max-transfers under way",
    );
    return { kind: "reply", reply: sign(refuse()) };
  }
  const ttl = deps.answer.ttl;
  const serial = deps.registry.serial();
  let outcome: string;
  let records: Iterable<ResourceRecord>;
  let steps = 0;
  const clientSerial = kind === "IXFR" ? ixfrClientSerial(msg) : undefined;
  if (kind === "IXFR" && clientSerial === undefined) {
    deps.metrics?.observeTransfer("refused");
    return { kind: "reply", reply: sign(refuse(Rcode.FORMERR)) }; // RFC 1995 §3: the client's SOA is required
  }
  const current = zoneSoa(zone, serial, deps.answer);
  const upToDate = clientSerial !== undefined && compareSerial(clientSerial, serial) !== -1;
  // the journal is read only for a client that is behind
  const since = upToDate || clientSerial === undefined ? undefined : deps.journals?.journal(zone)?.since(clientSerial);
  if (upToDate) {
    // RFC 1995 §2: as new or newer than ours: our SOA alone
    outcome = "up-to-date";
    records = [current];
  } else if (since !== undefined && since.length > 0 && since[since.length - 1]!.to === serial) {
    outcome = "ixfr";
    steps = since.length;
    records = ixfrRecords(zone, current, since, deps.answer);
  } else {
    // AXFR, or IXFR from a serial the journal does not reach back to: the whole zone (RFC 1995 §4)
    outcome = kind === "AXFR" ? "axfr" : "ixfr-as-axfr";
    const snap = zoneSnapshot(deps.registry, deps.answer, zone, deps.transfer);
    records = (function* () {
      yield snap.soa;
      yield* zoneRecords(snap, ttl);
      yield snap.soa;
    })();
  }
  const maxSize = 65535 - (auth.kind === "signed" ? tsigLength(auth.signer.request) : 0);
  const signEach = auth.kind === "signed" ? replyStreamSigner(auth.signer.request, nowSec) : (wire: Buffer) => wire;
  const packed = packTransfer({ id: q.id, question: q.question }, records, maxSize);
  const started = deps.clock.now();
  deps.active.count++;
  deps.log.info(
    {
      peer,
      zone: zoneText,
      kind,
      serial,
      ...(clientSerial !== undefined ? { clientSerial } : {}),
      outcome,
      ...(keyName ? { key: keyName } : {}),
    },
    "zone transfer started",
  );
  const messages: Iterator<Buffer> = {
    next: () => {
      const r = packed.next();
      return r.done ? r : { done: false, value: signEach(r.value) };
    },
  };
  let finished = false;
  return {
    kind: "stream",
    messages,
    done: (sent, aborted) => {
      if (finished) return;
      finished = true;
      deps.active.count--;
      deps.metrics?.observeTransfer(aborted ? "aborted" : outcome);
      deps.log.info(
        {
          peer,
          zone: zoneText,
          kind,
          ...(keyName ? { key: keyName } : {}),
          outcome: aborted ? "aborted" : outcome,
          serial,
          ...(steps ? { steps } : {}),
          messages: sent.messages,
          bytes: sent.bytes,
          ms: deps.clock.now() - started,
        },
        aborted ? "zone transfer aborted" : "zone transfer done",
      );
    },
  };
}

/** An incremental transfer (RFC 1995 §4): our SOA, then per step the old SOA, removals, the new SOA, additions; our SOA last. */
function* ixfrRecords(
  zone: Labels,
  current: ResourceRecord,
  steps: readonly JournalStep[],
  options: AnswerOptions,
): Generator<ResourceRecord> {
  yield current;
  for (const s of steps) {
    yield zoneSoa(zone, s.from, options);
    yield* s.removed;
    yield zoneSoa(zone, s.to, options);
    yield* s.added;
  }
  yield current;
}
