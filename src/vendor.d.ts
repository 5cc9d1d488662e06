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
declare module 'undici/lib/dispatcher/agent.js' {
  export { Agent as default } from 'undici'
}
/** module.exports has fetch, which the index wraps only to capture the caller's stack on errors. */
declare module 'undici/lib/web/fetch/index.js' {
  import type { fetch } from 'undici'
  const fetchModule: { readonly fetch: typeof fetch }
  export default fetchModule
}
