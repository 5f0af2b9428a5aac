// The store a configuration names, opened: the embedded LMDB file, memory,
// or an etcd cluster (with its TLS and auth files read now).
import type { Logger } from "pino";
import { readSettingFile } from "../setting-files.js";
import { EtcdStore, parseEtcdUrl, type EtcdOptions } from "./etcd.js";
import { LmdbStore } from "./lmdb.js";
import { MemoryStore } from "./memory.js";
import type { Store } from "./store.js";

/** How to reach a secured etcd: files are read when the store opens. */
export interface EtcdAccess {
  /** CA certificate(s) to verify etcd with; set = TLS. */
  caFile?: string;
  /** Client certificate and key, for etcd's --client-cert-auth. */
  certFile?: string;
  keyFile?: string;
  user?: string;
  passwordFile?: string;
}

/** Which store to open (--store, --data-dir, --node-name and the --etcd-* flags, resolved). */
export type StoreConfig =
  | { kind: "lmdb"; dataDir: string }
  | { kind: "memory" }
  | { kind: "etcd"; url: string; access: EtcdAccess; nodeName?: string };

export async function openStore(s: StoreConfig, log: Logger): Promise<Store> {
  if (s.kind === "lmdb") return LmdbStore.open(s.dataDir);
  if (s.kind === "etcd")
    return new EtcdStore(
      { ...etcdOptions(s.url, s.access), ...(s.nodeName !== undefined ? { nodeName: s.nodeName } : {}) },
      log,
    );
  return new MemoryStore();
}

function etcdOptions(url: string, access: EtcdAccess): EtcdOptions {
  return {
    ...parseEtcdUrl(url),
    ...(access.caFile
      ? {
          tls: {
            ca: readSettingFile("--etcd-ca", access.caFile),
            ...(access.certFile && access.keyFile
              ? {
                  cert: readSettingFile("--etcd-cert", access.certFile),
                  key: readSettingFile("--etcd-key", access.keyFile),
                }
              : {}),
          },
        }
      : {}),
    ...(access.user && access.passwordFile
      ? {
          auth: {
            username: access.user,
            password: readSettingFile("--etcd-password-file", access.passwordFile).toString("utf8").split(/\r?\n/)[0]!,
          },
        }
      : {}),
  };
}
