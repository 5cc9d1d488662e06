#!/usr/bin/env node
/**
 * The `jitsi-oidc-sidecar` command: `serve` (the default) runs the sidecar
 * configured by the environment; `demo` runs it with an embedded identity
 * provider and a stand-in Jitsi page; `keygen`, `jitsi-env` and `check` are
 * for operators.
 */
import { parseArgs } from 'node:util'

// Each command loads only the modules it uses, when it is chosen: `serve` never
// loads the operator commands (nor the demo's identity provider), and `help`
// or a usage error loads nothing at all. Start-up time counts for `serve`.

const USAGE = `usage: jitsi-oidc-sidecar <command>
  serve                 run the sidecar, configured by environment variables (the default)
  demo                  run a self-contained demo on http://localhost:8080
  keygen [--out FILE] [--kid ID] [--bits 2048|3072|4096]
                        write a new RSA signing key (mode 0600); print its kid and public key
  jitsi-env [--show-secrets] [--keyserver-url URL] [--custom-config]
                        print the docker-jitsi-meet variables for the Jitsi side
                        (--custom-config: the web settings for its custom-config.js instead)
  check [--url URL | --keyserver URL] [--kid KID ...]
                        validate the configuration, reach the identity provider, sign and verify
                        a token as Prosody would (with --url: through a running sidecar's key server;
                        --keyserver: JWT_ASAP_KEYSERVER exactly as Jitsi has it; --kid: also published)
`

function fail(message: string, status = 2): never {
  process.stderr.write(`jitsi-oidc-sidecar: ${message}\n`)
  process.exit(status)
}

/** Loads the configuration for a command, or exits 2 listing every problem. */
async function configOrExit() {
  const { ConfigError, loadConfig } = await import('./config/load.js')
  try {
    return loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message)
    throw err
  }
}

async function serve(): Promise<void> {
  // The server's modules load while the configuration is read and checked.
  const modules = Promise.all([import('./ops/log.js'), import('./ops/start.js')])
  modules.catch(() => {}) // a configuration error exits first; a load error is thrown below
  const config = await configOrExit()
  const [{ createLogger, flushAndExit, prettyStream }, { start }] = await modules
  const log = createLogger(config.logLevel, config.logFormat === 'pretty' ? await prettyStream() : undefined)
  // A bug that escapes every handler ends the process, as Node would, but through the logger's
  // bounded flush: Node's own exit would flush synchronously and could hang on a stalled stdout.
  let crashed = false
  process.on('uncaughtException', (err) => {
    if (crashed) return
    crashed = true
    // error, not fatal: pino's fatal flushes synchronously, which is the hang this avoids.
    log.error({ event: 'crashed', error: err.message, stack: err.stack }, 'uncaught error: exiting')
    flushAndExit(log, 1)
  })
  // The handlers are in place before start() announces "listening": a supervisor may signal as soon
  // as it reads that line, and a signal with no handler yet kills the process without a graceful stop.
  // A signal during start-up stops the server once it has started.
  const starting = start(config, log)
  let stopping = false
  const stop = (signal: string) => {
    // A second signal means: now (what is logged still gets up to 200 ms to leave).
    if (stopping) return flushAndExit(log, 1, 200)
    stopping = true
    log.info({ event: 'signal', signal }, `${signal}: stopping gracefully (again to stop at once)`)
    starting.then((running) => running.stop()).then(() => flushAndExit(log, 0), () => flushAndExit(log, 1))
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
  await starting
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'serve'
  const args = argv.slice(1)
  switch (command) {
    case 'serve':
      return serve()
    case 'keygen': {
      const { values } = parseArgs({ args, options: { out: { type: 'string', default: 'jwt-private-key.pem' }, kid: { type: 'string' }, bits: { type: 'string', default: '2048' } } })
      const { keygen } = await import('./commands/keygen.js')
      try {
        const r = await keygen({ out: values.out, kid: values.kid, bits: Number(values.bits) })
        process.stdout.write(r.report)
      } catch (err) {
        fail(`keygen: ${(err as Error).message}`, 1)
      }
      return
    }
    case 'jitsi-env': {
      const { values } = parseArgs({ args, options: { 'show-secrets': { type: 'boolean', default: false }, 'keyserver-url': { type: 'string' }, 'custom-config': { type: 'boolean', default: false } } })
      const config = await configOrExit()
      const base = values['keyserver-url']
      if (base !== undefined && !/^https?:\/\/[^/\s]+/.test(base)) fail(`jitsi-env: --keyserver-url must be an http(s) URL, got ${JSON.stringify(base)}`)
      const { jitsiEnv, jitsiCustomConfig } = await import('./commands/jitsi-env.js')
      try {
        process.stdout.write(values['custom-config'] ? jitsiCustomConfig(config) : jitsiEnv(config, { showSecrets: values['show-secrets'], keyserverBase: base }))
      } catch (err) {
        fail(`jitsi-env: ${(err as Error).message}`, 1)
      }
      return
    }
    case 'check': {
      const { values } = parseArgs({ args, options: { url: { type: 'string' }, keyserver: { type: 'string' }, kid: { type: 'string', multiple: true } } })
      const { runCheck } = await import('./commands/check.js')
      process.exitCode = await runCheck({ url: values.url, keyserver: values.keyserver, kids: values.kid }, { env: process.env, out: (line) => process.stdout.write(`${line}\n`) })
      return
    }
    case 'demo': {
      const { runDemo } = await import('./demo/main.js')
      return runDemo()
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE)
      return
    default:
      fail(`unknown command ${JSON.stringify(command)}\n${USAGE}`)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err), 1))
