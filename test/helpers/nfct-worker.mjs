// Runs inside a worker_threads Worker (test/e2e/nfct.test.ts): the whole ctnetlink adapter on this
// thread's loop. Reports the port ids, then a dump, then the first event caused by someone else.
// `leaveOpen`: process.exit() without close() (open sockets keep a loop alive, so only an explicit
// exit or terminate() ends such a Worker): the addon's env-teardown hook has to close the sockets.
//
// Plain JavaScript over the build (dist/): the tests' TypeScript loader (tsx, --import) is not
// registered in worker threads on every Node 20 release, and a .ts worker then fails to load.
import { parentPort, workerData } from 'node:worker_threads'
import { openCtnetlink } from '../../dist/io/ctnetlink.js'

/** @type {{ leaveOpen: boolean }} */
const job = workerData
const port = parentPort
if (port === null) throw new Error('not in a worker')

const ct = await openCtnetlink()
ct.onEvent((e) => {
  port.postMessage({ kind: 'event', event: e.event, src: e.flow.orig.src, sport: e.flow.orig.sport })
})
const stats = ct.stats()
port.postMessage({ kind: 'open', commitPortId: stats.commitPortId, eventPortId: stats.eventSocket?.portId, rcvbuf: stats.eventSocket?.recvBufferSize })
port.on('message', (/** @type {{ kind: string }} */ msg) => {
  void (async () => {
    if (msg.kind === 'dump') {
      const flows = await ct.dump()
      port.postMessage({ kind: 'dump', count: flows.length, srcs: flows.map(f => f.orig.src) })
    } else if (msg.kind === 'stop') {
      port.postMessage({ kind: 'stopped' })
      if (job.leaveOpen) process.exit(0)
      await ct.close()
      port.close()
    }
  })()
})
