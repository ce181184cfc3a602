/**
 * Store operations, errors and latency, counted around whichever store the
 * daemon opened (embedded or etcd) by wrapping its methods on the instance,
 * so the store classes stay unaware of metrics and `instanceof` still holds.
 */
import type { KvStore } from '../control/store.js';
import { metrics } from '../metrics.js';

const OPS = metrics.counter('weft_store_operations_total', 'Store operations by operation and outcome (ok, error).');
const DURATION = metrics.histogram('weft_store_operation_duration_seconds', 'Time a store operation took, by operation.');

type Op = 'get' | 'list' | 'put' | 'create' | 'delete';

export function instrumentStore<S extends KvStore>(store: S): S {
  for (const op of ['get', 'list', 'put', 'create', 'delete'] as Op[]) {
    const original = (store[op] as (...a: unknown[]) => Promise<unknown>).bind(store);
    const ok = OPS.with({ kind: store.kind, op, outcome: 'ok' });
    const failed = OPS.with({ kind: store.kind, op, outcome: 'error' });
    const time = DURATION.with({ kind: store.kind, op });
    (store as unknown as Record<Op, (...a: unknown[]) => Promise<unknown>>)[op] = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        const r = await original(...args);
        ok.value++;
        return r;
      } catch (err) {
        failed.value++;
        throw err;
      } finally {
        time.since(t0);
      }
    };
  }
  return store;
}
