// Prometheus metrics of a running hafwd, scraped over the loopback of the firewall's namespace.
import t from 'tap'
import { join } from 'node:path'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { skipUnlessRoot, labFor } from './helpers.js'
import { hafwConfig } from '../../src/lab/configs.js'
import { startHafwd } from '../../src/lab/hafwd-process.js'
import { waitFor, whoIsMaster } from '../../src/lab/observe.js'
import { nsExec } from '../../src/lab/sh.js'

const skip = skipUnlessRoot()

t.test('metrics endpoint', { skip }, async t => {
  const lab = await labFor(t, 'met')
  const fw = lab.fw[0]
  const dir = mkdtempSync(join(tmpdir(), 'hafw-e2e-metrics-'))
  const p = startHafwd(fw.ns, hafwConfig(lab, fw, { advertInterval: '100ms', ipv6: false, conntrack: true, metricsListen: '127.0.0.1:9781', controlSocket: join(dir, 'fw1.sock') }), dir, 'fw1')
  t.teardown(async () => { await p.stop('SIGKILL').catch(() => null) })
  t.not(await waitFor(async () => (await whoIsMaster(lab)).join() === 'fw1', 15_000, 20), null, 'fw1 master')
  const scrape = async (path: string): Promise<string> => await nsExec(fw.ns, process.execPath, ['-e', `fetch('http://127.0.0.1:9781${path}').then(async r => { process.stdout.write(r.status + '\\n' + await r.text()) })`])
  const body = await scrape('/metrics')
  t.match(body, /^200\n/, 'HTTP 200')
  t.match(body, /hafw_vrrp_state\{router="VI_IN\/ipv4",interface="eth1",vrid="\d+",family="ipv4",state="master"\} 1/, 'router state, with interface, vrid and family')
  t.match(body, /hafw_vrrp_priority\{router="VI_OUT\/ipv4",interface="[^"]+",vrid="\d+",family="ipv4",kind="configured"\} 100/, "configured priority")
  t.match(body, /hafw_vrrp_priority\{router="VI_OUT\/ipv4",[^}]*kind="effective"\} \d+/, "effective priority (demoted while the startup resync waits for a peer)")
  t.match(body, /hafw_node_role\{role="master"\} 1/, 'node role')
  t.match(body, /hafw_conntrack_cache_entries\{cache="internal"\} \d+/, 'conntrack cache size')
  t.match(body, /\nprocess_resident_memory_bytes \d+/, 'process RSS under its standard name')
  t.match(body, /\nhafw_sync_rx_bytes_total \d+/, 'received sync bytes')
  t.notMatch(body, /\{name="/, 'no counter names as label values')
  t.match(await scrape('/healthz'), /^200\nok/, 'health check')
  t.match(await scrape('/nope'), /^404/, 'unknown path → 404')
})
