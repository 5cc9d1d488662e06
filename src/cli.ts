#!/usr/bin/env node
/**
 * The `jitsi-oidc-sidecar` command: `serve` (the default) runs the sidecar
 * configured by the environment; `demo` runs it with an embedded identity
 * provider and a stand-in Jitsi page.
 */
import { ConfigError, loadConfig } from './config.js'
import { createLogger } from './log.js'
import { start } from './start.js'

const USAGE = `usage: jitsi-oidc-sidecar [serve|demo|help]
  serve   run the sidecar, configured by environment variables (see README)
  demo    run a self-contained demo on http://localhost:8080
`

async function serve(): Promise<void> {
  let config
  try {
    config = loadConfig(process.env)
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`jitsi-oidc-sidecar: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  const log = createLogger(config.logLevel)
  const running = await start(config, log)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) process.exit(1)
    stopping = true
    log.info({ event: 'stopping', signal }, 'stopping')
    running.stop().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0] ?? 'serve'
  switch (command) {
    case 'serve':
      return serve()
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
      process.stderr.write(`jitsi-oidc-sidecar: unknown command ${JSON.stringify(command)}\n${USAGE}`)
      process.exit(2)
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`jitsi-oidc-sidecar: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
