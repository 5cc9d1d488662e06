/**
 * openid-client, undici's fetch and Agent, and jose's key sets: the only place
 * they are loaded, on the first discovery (which the sidecar starts in the
 * background once it is listening), so none of them is on the start-up path.
 */
import { SidecarError } from '../outcomes.js'

async function importIdpModules() {
  const [openid, { default: Agent }, { default: { fetch } }, { compactVerify, createLocalJWKSet, createRemoteJWKSet, customFetch, errors, jwtVerify }] = await Promise.all([
    import('openid-client'),
    // undici's Agent and fetch from their own files: its index loads much more (see forward.ts).
    // CommonJS, so taken from `default` (module.exports): in a bundle's lazy chunk that is all there is.
    import('undici/lib/dispatcher/agent.js'),
    import('undici/lib/web/fetch/index.js'),
    import('jose'),
  ])
  return { openid, Agent, fetch, compactVerify, createLocalJWKSet, createRemoteJWKSet, customFetch, errors, jwtVerify }
}

export type IdpModules = Awaited<ReturnType<typeof importIdpModules>>

/** Set once loaded: openid-client's and jose's errors, which the error mapping tells apart, exist only from then on. */
let idpModules: IdpModules | undefined
let loading: Promise<IdpModules> | undefined

export function loadIdpModules(): Promise<IdpModules> {
  loading ??= importIdpModules().then(
    (m) => (idpModules = m),
    (err: Error) => {
      // Not kept: the next discovery tries again, and the log says what failed.
      loading = undefined
      throw new SidecarError('INTERNAL', `the OIDC client modules did not load: ${err.message}`, { cause: err })
    },
  )
  return loading
}

/** The modules if they are loaded already (an error of their classes can exist only then). */
export function loadedIdpModules(): IdpModules | undefined {
  return idpModules
}
