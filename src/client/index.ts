// The ringdns client library: register services over DNS UPDATE and find
// them (and a key's ring owner) over DNS.
export {
  register,
  deregister,
  Registration,
  registrationUpdate,
  deregistrationUpdate,
  type ServiceInstance,
  type RegisterOptions,
} from "./registration.js";
export { browse, resolve, ownerOf, LookupError, type ResolvedInstance, type LookupOptions } from "./discovery.js";
export { sendUpdate, UpdateError, type UpdateResult } from "./update-client.js";
export type { Server } from "./dns-client.js";
export { loadKeyFile, parseKeySpec, generateKey } from "../update/keys.js";
export { loadSig0Key, generateSig0Key, srpKeyFor } from "../update/sig0-keys.js";
export type { Sig0Signer } from "../wire/sig0.js";
export type { TsigKey } from "../wire/tsig.js";
export { Ring } from "../ring/ring.js";
export { watch, type WatchOptions, type WatchItem, type WatchEvent } from "./watch.js";
export {
  subscribe,
  pushName,
  SubscribeError,
  type SubscribeOptions,
  type PushChange,
  type Subscription,
  type ReconfirmRecord,
} from "./push.js";
