/**
 * Prometheus metrics (prom-client), in a registry of their own so tests and
 * several instances in one process never share counters. Names and labels
 * are fixed here; label values come from small closed sets (route classes,
 * error codes, algorithms), never from request data.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export type RouteClass = 'room' | 'endpoint' | 'proxy'
export type LoginOutcome = 'started' | 'succeeded' | 'denied' | 'failed'

export class Metrics {
  readonly registry = new Registry()
  readonly requests = new Counter({ name: 'jos_http_requests_total', help: 'Requests on the public port by route class and status.', labelNames: ['route', 'status'] as const, registers: [this.registry] })
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
  readonly websockets: Gauge = new Gauge({
    name: 'jos_websocket_connections',
    help: 'Open upgraded (WebSocket) connections.',
    registers: [this.registry],
    collect: (): void => this.websockets.set(this.openWebSockets()),
  })
  readonly keyReloads = new Counter({ name: 'jos_key_reloads_total', help: 'Signing-key file changes by result (rotated, public_keys, failed).', labelNames: ['result'] as const, registers: [this.registry] })

  /** Bound counter children by route and status: labelling by object hashes on every call. */
  readonly #requestCounters = new Map<string, { inc(): void }>()

  /** Counts one request on the public port. */
  countRequest(route: RouteClass, status: number): void {
    const key = `${route} ${status}`
    let counter = this.#requestCounters.get(key)
    if (counter === undefined) {
      counter = this.requests.labels(route, String(status))
      this.#requestCounters.set(key, counter)
    }
    counter.inc()
  }

  constructor(withDefaults = true) {
    if (withDefaults) collectDefaultMetrics({ register: this.registry })
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
