/**
 * The ASAP key server (`asap/<hex sha256(kid)>.pem`, fetched by Prosody) and
 * the JWKS (`jwks.json`). Public and unauthenticated; absent (404) with a
 * shared secret, so no key material is ever exposed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { KeyStore } from './keys.js'
import type { Responder } from '../http/respond.js'

/** Prosody's key file name: lowercase hex SHA-256 of the kid, `.pem`. */
const ASAP_FILE = /^([0-9a-f]{64})\.pem$/

/** `file` is the name under `asap/`, or undefined for the JWKS. Only routed with an RS* algorithm. */
export function servePublicKeys(req: IncomingMessage, res: ServerResponse, file: string | undefined, keys: KeyStore, responder: Responder): void {
  let body: string
  let type: string
  if (file === undefined) {
    body = keys.jwksJson
    type = 'application/jwk-set+json'
  } else {
    const m = ASAP_FILE.exec(file)
    const key = m ? keys.byKidHash(m[1] as string) : undefined
    if (!key) return responder.respond(req, res, { code: 'NOT_FOUND' })
    body = key.pem
    type = 'application/x-pem-file'
  }
  res.writeHead(200, {
    'content-type': type,
    'content-length': String(Buffer.byteLength(body)),
    // A kid never changes its key, but the set of keys does: cache briefly.
    'cache-control': 'public, max-age=300',
    'x-content-type-options': 'nosniff',
  })
  res.end(req.method === 'HEAD' ? undefined : body)
}
