/**
 * How the sidecar's own requests reach the IdP (discovery, token, userinfo,
 * JWKS): one undici Agent with OIDC_TIMEOUT_SECONDS on connect, headers and
 * body, trusting OIDC_CA_FILE's CAs besides Node's roots. With
 * OIDC_INTERNAL_URL, a connection for the issuer's origin is made to that
 * address instead: the URL, the Host header and the TLS name (SNI and the
 * certificate check) stay the issuer's, so `iss` and the URLs people use stay
 * public and the IdP's virtual hosting still works. Also what a TLS failure
 * means for an operator (tlsProblem).
 */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { checkServerIdentity, rootCertificates, type ConnectionOptions, type PeerCertificate } from 'node:tls'
import type { Dispatcher } from 'undici'
// Its own file because the index loads much more (see forward.ts); already loaded by the pool forward.ts uses.
import buildConnector from 'undici/lib/core/connect.js'
import type { OidcConfig } from '../config/types.js'
import { pemCertificates } from '../config/parse.js'
import { findCause, printable } from './causes.js'
import type { IdpModules } from './modules.js'


export function idpDispatcher({ Agent }: IdpModules, cfg: OidcConfig): Dispatcher {
  const t = cfg.timeoutMs
  // An explicit `ca` replaces Node's roots and NODE_EXTRA_CA_CERTS, so they are given too.
  const tls: ConnectionOptions = cfg.caCertificates ? { ca: [...rootCertificates, ...extraCaCertificates(), ...cfg.caCertificates] } : {}
  const connect = cfg.internalUrl ? internalConnector(cfg.issuer, cfg.internalUrl, { ...tls, timeout: t }) : { ...tls, timeout: t }
  return new Agent({ connect, headersTimeout: t, bodyTimeout: t, keepAliveTimeout: 30_000 })
}

/** NODE_EXTRA_CA_CERTS's certificates: Node adds them to its own roots only, not to a CA list given to a connection. */
function extraCaCertificates(): string[] {
  const file = process.env.NODE_EXTRA_CA_CERTS
  if (!file) return []
  try {
    return pemCertificates(readFileSync(file, 'utf8'))
  } catch {
    // Node warned of it at start-up.
    return []
  }
}

const unbracket = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1')

/**
 * undici's connector for every origin, but connections for the issuer's
 * origin go to `internal` (TLS or plain TCP by its scheme; undici writes
 * HTTP/1.1 over either). Over TLS the certificate must name the issuer's host,
 * which is also the SNI (unless it is an IP address, which SNI cannot carry).
 */
function internalConnector(issuer: URL, internal: URL, options: buildConnector.BuildOptions): buildConnector.connector {
  const publicName = unbracket(issuer.hostname)
  const direct = buildConnector(options)
  const redirected = buildConnector({ ...options, checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(publicName, cert) })
  const target = {
    protocol: internal.protocol,
    hostname: unbracket(internal.hostname),
    port: internal.port,
    // For undici's SNI default and TLS session cache: the public name.
    host: issuer.host,
    servername: isIP(publicName) ? undefined : publicName,
  }
  return (opts, callback) => {
    if (opts.protocol !== issuer.protocol || opts.host !== issuer.host) return direct(opts, callback)
    return redirected({ ...opts, ...target }, callback)
  }
}

/** Error codes of TLS failures (Node's and OpenSSL's). */
const TLS_CODE = /^(?:CERT_|ERR_TLS_|ERR_SSL_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_)[A-Z0-9_]{1,60}$/
/** Untrusted chains: the cure is the CA. */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED'])
const ADD_CA = 'with OIDC_CA_FILE (or NODE_EXTRA_CA_CERTS)'

function explain(code: string, err: object): string {
  const what = `(${code})`
  switch (code) {
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `TLS: the IdP's certificate is self-signed and not trusted ${what}: give that certificate ${ADD_CA}`
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `TLS: the IdP's certificate chain ends at a CA that is not trusted ${what}: give that CA ${ADD_CA}`
    case 'CERT_HAS_EXPIRED':
      return `TLS: the IdP's certificate, or one in its chain, has expired ${what}: renew it at the IdP (and check this host's clock)`
    case 'CERT_NOT_YET_VALID':
      return `TLS: the IdP's certificate is not valid yet ${what}: check this host's clock, and the dates of the IdP's certificate`
    case 'ERR_TLS_CERT_ALTNAME_INVALID': {
      const { host, cert } = err as { host?: unknown; cert?: { subjectaltname?: unknown } }
      const asked = printable(host, 253)
      const names = printable(cert?.subjectaltname, 200)
      return `TLS: the IdP's certificate does not name the host asked for${asked ? `, ${asked}` : ''} ${what}${names ? `; it names ${names}` : ''}: `
        + "OIDC_ISSUER must use a name the certificate has, or the IdP needs a certificate for that name (with OIDC_INTERNAL_URL too, the certificate must name OIDC_ISSUER's host)"
    }
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `TLS: the IdP's port does not answer in TLS ${what}: is it plain http? Check OIDC_ISSUER's scheme and port (and OIDC_INTERNAL_URL's)`
  }
  if (UNTRUSTED.has(code)) {
    const chain = code === 'CERT_UNTRUSTED' ? '' : '; if a public CA signed it, the IdP must also send the intermediate certificates'
    return `TLS: the IdP's certificate is not trusted ${what}: give its CA ${ADD_CA}${chain}`
  }
  if (code.startsWith('CERT_')) return `TLS: the IdP's certificate was refused ${what}: see its chain with \`openssl s_client -connect HOST:PORT -showcerts\``
  return `TLS: the connection to the IdP failed in the TLS handshake ${what}`
}

/**
 * What a TLS failure somewhere in `err`'s causes (undici's fetch gives
 * TypeError('fetch failed') with the socket's error as its cause) means for
 * an operator, in one line naming the code and the fix; undefined when no
 * cause is a TLS failure.
 */
export function tlsProblem(err: unknown): string | undefined {
  const failed = findCause(err, (e) => typeof e.code === 'string' && TLS_CODE.test(e.code))
  return failed ? explain(failed.code as string, failed) : undefined
}

