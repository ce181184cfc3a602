/**
 * The state store interface shared by the embedded single-host store and
 * etcd. Keys are '/'-separated paths; values are strings (JSON by
 * convention). create() is the one atomic primitive allocation relies on:
 * two hosts racing for the same key, exactly one wins.
 */

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value?: string;
}

export interface KvStore {
  /** 'embedded' or 'etcd': shown by the CLI, decides network scope. */
  readonly kind: string;
  get(key: string): Promise<string | undefined>;
  /** Every key under prefix with its value. */
  list(prefix: string): Promise<Map<string, string>>;
  put(key: string, value: string): Promise<void>;
  /** Puts only if the key does not exist; true when this call created it. */
  create(key: string, value: string): Promise<boolean>;
  /** Deletes; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Calls back on every change under prefix; returns a cancel function.
   * `onResync` (shared stores) runs whenever the watch (re)connects, since
   * changes may have been missed: the caller lists again.
   */
  watch(prefix: string, onEvent: (e: WatchEvent) => void, onResync?: () => void): () => void;
  close(): Promise<void>;
}

