/**
 * Types for the files of dependencies that the sidecar imports past their
 * index (which would load parts it never uses). All are CommonJS: their
 * default export is module.exports, which (but for fetch's) is the very object
 * the package's index exports under that name.
 */
declare module 'prom-client/lib/registry.js' {
  export { Registry as default } from 'prom-client'
}
declare module 'prom-client/lib/counter.js' {
  export { Counter as default } from 'prom-client'
}
declare module 'prom-client/lib/gauge.js' {
  export { Gauge as default } from 'prom-client'
}
declare module 'prom-client/lib/histogram.js' {
  export { Histogram as default } from 'prom-client'
}
declare module 'prom-client/lib/defaultMetrics.js' {
  export { collectDefaultMetrics as default } from 'prom-client'
}
declare module 'undici/lib/dispatcher/pool.js' {
  export { Pool as default } from 'undici'
}
declare module 'undici/lib/core/connect.js' {
  export { buildConnector as default } from 'undici'
}
declare module 'undici/lib/dispatcher/agent.js' {
  export { Agent as default } from 'undici'
}
/** module.exports has fetch, which the index wraps only to capture the caller's stack on errors. */
declare module 'undici/lib/web/fetch/index.js' {
  import type { fetch } from 'undici'
  const fetchModule: { readonly fetch: typeof fetch }
  export default fetchModule
}
/**
 * oidc-provider's memory adapter (ESM, no exports map), given a store of the demo IdP's own: the
 * default store is one 1,000-record LRU shared by every provider in the process.
 */
declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type { Adapter, AdapterPayload } from 'oidc-provider'
  export interface MemoryStore {
    get(key: string): unknown
    set(key: string, value: NonNullable<unknown>, options?: { maxAge?: number }): void
    delete(key: string): void
  }
  export default class MemoryAdapter implements Adapter {
    constructor(model: string, store: MemoryStore, clockTolerance?: number)
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>
    find(id: string): Promise<AdapterPayload | undefined>
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>
    findByUid(uid: string): Promise<AdapterPayload | undefined>
    consume(id: string): Promise<void>
    destroy(id: string): Promise<void>
    revokeByGrantId(grantId: string): Promise<void>
  }
}
