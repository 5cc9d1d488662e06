/**
 * openid-client's Configuration for our client: secret, clock skew, the
 * fetch all IdP traffic goes through, timeouts, and plain HTTP only where
 * allowed. openid-client freezes the clock skew into a configuration, so a
 * moved clock needs a new one (reconfigure).
 */
import type * as client from 'openid-client'
import type { OidcConfig } from '../config/types.js'
import type { IdpModules } from './modules.js'

/** The ID-token algorithms we accept from what discovery offers: all but `none` (HS* with the client secret); RS256 when unlisted. */
export function usableIdTokenAlgs(offered: readonly string[] | undefined): string[] {
  return (offered ?? ['RS256']).filter((alg) => alg !== 'none')
}

export function clientMetadata({ openid }: IdpModules, cfg: OidcConfig, skew: number): Partial<client.ClientMetadata> {
  return { client_secret: cfg.clientSecret, [openid.clockSkew]: skew }
}

export function configurationOptions({ openid }: IdpModules, cfg: OidcConfig, fetch: client.CustomFetch | undefined): client.DiscoveryRequestOptions {
  return {
    ...(fetch ? { [openid.customFetch]: fetch } : {}),
    timeout: Math.ceil(cfg.timeoutMs / 1000),
    execute: cfg.allowHttp && cfg.issuer.protocol === 'http:' ? [openid.allowInsecureRequests] : [],
  }
}

/** The same discovered configuration for another clock skew. */
export function reconfigure(idp: IdpModules, from: client.Configuration, cfg: OidcConfig, fetch: client.CustomFetch, skew: number): client.Configuration {
  const { openid } = idp
  const configuration = new openid.Configuration(from.serverMetadata(), cfg.clientId, clientMetadata(idp, cfg, skew), openid.ClientSecretPost(cfg.clientSecret))
  const opts = configurationOptions(idp, cfg, fetch)
  configuration[openid.customFetch] = fetch
  configuration.timeout = opts.timeout
  for (const extension of opts.execute ?? []) extension(configuration)
  return configuration
}
