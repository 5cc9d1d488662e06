/**
 * Prometheus metrics (prom-client), in a registry of their own so tests and
 * several instances in one process never share counters. Names and labels
 * are fixed here; label values come from small closed sets (route classes,
 * error codes, algorithms), never from request data.
 */
import type * as PromClient from 'prom-client'
// prom-client's index also loads its Pushgateway (http, https, zlib), cluster
// aggregation (node:cluster) and Summary, none of which the sidecar uses:
// taking the classes from their own files saves about 15 ms of start-up and
// 2 MB of memory. They are the very objects the index exports (a test checks
// that, so an upgrade that moves them fails loudly); src/vendor.d.ts types them.
import Counter from 'prom-client/lib/counter.js'
import Gauge from 'prom-client/lib/gauge.js'
import Histogram from 'prom-client/lib/histogram.js'
import Registry from 'prom-client/lib/registry.js'

/** `auth`: forward-auth questions (MODE=forward-auth); `proxy`: to jitsi-web (MODE=proxy). */
export type RouteClass = 'room' | 'endpoint' | 'auth' | 'proxy'
export type LoginOutcome = 'started' | 'succeeded' | 'denied' | 'failed'

export class Metrics {
  readonly registry = new Registry()
  readonly requests: PromClient.Counter<'route' | 'status'> = new Counter({
    name: 'jos_http_requests_total',
    help: 'Requests on the public port by route class and status.',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
    collect: (): void => {
      for (const [key, n] of this.#pendingRequests) {
        const space = key.indexOf(' ')
        this.requests.inc({ route: key.slice(0, space), status: key.slice(space + 1) }, n)
      }
      this.#pendingRequests.clear()
    },
  })
  readonly logins = new Counter({ name: 'jos_logins_total', help: 'Sign-ins by outcome; failed ones by error code.', labelNames: ['outcome', 'reason'] as const, registers: [this.registry] })
  readonly tokens = new Counter({ name: 'jos_tokens_issued_total', help: 'Jitsi tokens signed, by algorithm.', labelNames: ['alg'] as const, registers: [this.registry] })
  readonly idpLatency = new Histogram({
    name: 'jos_idp_request_duration_seconds',
    help: 'Requests to the identity provider, by operation and outcome.',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })
  readonly upstreamErrors = new Counter({ name: 'jos_upstream_errors_total', help: 'Failures talking to jitsi-web, by kind (http, ws).', labelNames: ['kind'] as const, registers: [this.registry] })
  /** Set by the app: how many upgraded connections are open, read at scrape time. */
  openWebSockets: () => number = () => 0
  readonly websockets: PromClient.Gauge = new Gauge({
    name: 'jos_websocket_connections',
    help: 'Open upgraded (WebSocket) connections.',
    registers: [this.registry],
    collect: (): void => this.websockets.set(this.openWebSockets()),
  })
  readonly staleKeys = new Counter({ name: 'jos_idp_keys_stale_total', help: "Failed refetches of the IdP's key set (logins go on with the keys fetched before).", registers: [this.registry] })
  readonly keyReloads = new Counter({ name: 'jos_key_reloads_total', help: 'Signing-key file changes by result (rotated, public_keys, failed).', labelNames: ['result'] as const, registers: [this.registry] })

  /**
   * Requests counted by route and status between scrapes. prom-client hashes
   * and validates the labels on every inc(), even through labels(): the hot
   * path only bumps a number here, and the counter takes it at scrape time.
   */
  readonly #pendingRequests = new Map<string, number>()

  /** Counts one request on the public port. */
  countRequest(route: RouteClass, status: number): void {
    const key = `${route} ${status}`
    this.#pendingRequests.set(key, (this.#pendingRequests.get(key) ?? 0) + 1)
  }

  /** Set by collectDefaults: scrapes wait for it (text()). */
  #defaults: Promise<void> | undefined

  /** `withDefaults`: register prom-client's process and Node.js metrics now (see collectDefaults). */
  constructor(withDefaults = true) {
    // Handled here (an unhandled rejection would end the process); text() then goes on without them.
    if (withDefaults) this.collectDefaults().catch(() => {})
  }

  /**
   * Registers prom-client's default metrics (CPU, memory, event-loop lag, GC,
   * handles), once. Their modules (with @opentelemetry/api) are loaded here,
   * not at start-up: the sidecar's start calls this just after it is
   * listening, and a scrape that comes before they are registered waits for
   * them (text()).
   */
  collectDefaults(): Promise<void> {
    this.#defaults ??= import('prom-client/lib/defaultMetrics.js').then(({ default: collectDefaultMetrics }) => {
      collectDefaultMetrics({ register: this.registry })
    })
    return this.#defaults
  }

  /** The scrape: every metric in the Prometheus text format (the default ones once registered). */
  async text(): Promise<string> {
    // Without them if they failed to load (collectDefaults' caller logs that): the sidecar's own metrics still count.
    await this.#defaults?.catch(() => {})
    return this.registry.metrics()
  }

  /** Which IdP operation a URL is, from the discovered metadata's endpoints (a closed set of labels). */
  static operationOf(url: string, endpoints: Readonly<Record<string, string | undefined>>): string {
    if (url.includes('/.well-known/openid-configuration')) return 'discovery'
    for (const [name, endpoint] of Object.entries(endpoints)) {
      if ((name.endsWith('_endpoint') || name === 'jwks_uri') && typeof endpoint === 'string' && url.startsWith(endpoint)) return name
    }
    return 'other'
  }
}
