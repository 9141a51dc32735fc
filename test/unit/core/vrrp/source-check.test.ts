// The unicast source check decision (keepalived check_unicast_src; issue 12): peers pass,
// non-peers are refused with a named reason, the check can be turned off, multicast routers are
// never affected, and addresses compare by value, not by spelling.
import t from 'tap'
import { checkUnicastSource } from '../../../../src/core/vrrp/source-check.js'

const peers = ['192.0.2.2', 'fe80::2']

t.test('a unicast router with the check on takes its peers only', async t => {
  t.same(checkUnicastSource('192.0.2.2', { unicastPeers: peers, checkSource: true }), { ok: true })
  t.same(checkUnicastSource('192.0.2.66', { unicastPeers: peers, checkSource: true }), { ok: false, reason: 'notUnicastPeer' })
  t.same(checkUnicastSource('192.0.2.20', { unicastPeers: peers, checkSource: true }), { ok: false, reason: 'notUnicastPeer' }, 'no prefix match')
})

t.test('addresses compare by value: IPv6 spellings of the same peer pass', async t => {
  t.same(checkUnicastSource('FE80:0:0::2', { unicastPeers: peers, checkSource: true }), { ok: true })
  t.same(checkUnicastSource('fe80::3', { unicastPeers: peers, checkSource: true }), { ok: false, reason: 'notUnicastPeer' })
  t.same(checkUnicastSource('::ffff:192.0.2.2', { unicastPeers: ['192.0.2.2'], checkSource: true }), { ok: false, reason: 'notUnicastPeer' }, 'another family is another address')
  t.same(checkUnicastSource('not an address', { unicastPeers: peers, checkSource: true }), { ok: false, reason: 'notUnicastPeer' })
})

t.test('checkSource false: every source passes (keepalived default)', async t => {
  t.same(checkUnicastSource('192.0.2.66', { unicastPeers: peers, checkSource: false }), { ok: true })
})

t.test('multicast routers are not affected, whatever checkSource says', async t => {
  t.same(checkUnicastSource('192.0.2.66', { unicastPeers: null, checkSource: true }), { ok: true })
  t.same(checkUnicastSource('192.0.2.66', { unicastPeers: null, checkSource: false }), { ok: true })
})
