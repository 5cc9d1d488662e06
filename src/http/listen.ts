/** Listening as a promise: the port it got, or the listen error (EADDRINUSE and the like) as a rejection. */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}
