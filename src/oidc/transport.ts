/**
 * How the sidecar's own requests reach the IdP (discovery, token, userinfo,
 * JWKS): one undici Agent with OIDC_TIMEOUT_SECONDS on connect, headers and body.
 */
import type { Dispatcher } from 'undici'
import type { OidcConfig } from '../config/types.js'
import type { IdpModules } from './modules.js'

export function idpDispatcher({ Agent }: IdpModules, cfg: OidcConfig): Dispatcher {
  const t = cfg.timeoutMs
  return new Agent({ connect: { timeout: t }, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 30_000 })
}
