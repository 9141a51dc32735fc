/**
 * conntrackd.conf (parsed by conf-parse.ts) → the `conntrack` section of a hafw config, with every
 * statement marked in the ledger. Pure. Defaults are conntrackd 1.4's (specs/conntrackd-ftfw.md §3.8,
 * §6.1); where hafw's default differs and the file leaves the setting out, the conntrackd value is
 * written explicitly so that the behaviour stays the same.
 */
import { formatMs } from '../config/duration.js'
import { isIPv4Multicast, parseAddress, parseCidr } from '../config/net.js'
import type { ConfStmt } from './conf-parse.js'
import type { Ledger } from './ledger.js'

type ProtocolName = 'tcp' | 'udp' | 'udplite' | 'sctp' | 'dccp' | 'icmp' | 'icmpv6' | 'gre'
type TcpState = 'SYN_SENT' | 'SYN_RECV' | 'ESTABLISHED' | 'FIN_WAIT' | 'CLOSE_WAIT' | 'LAST_ACK' | 'TIME_WAIT' | 'CLOSE' | 'SYN_SENT2'

export interface ConntrackOut {
  sync: {
    transport?: 'udp' | 'multicast'
    interface?: string
    udp?: { address?: string, peer?: string, port: number }
    multicast?: { group: string, port: number, interfaceAddress?: string }
    sndBuffer?: number
    rcvBuffer?: number
    checksum: boolean
    ftfw: { resendQueueSize?: number, ackWindowSize?: number }
  }
  purgeTimeout?: string
  startupResyncTimeout?: string
  disableExternalCache?: boolean
  filter: {
    protocols: { accept?: ProtocolName[], ignore?: ProtocolName[] }
    addresses?: { ignore: string[] }
    tcpStates?: { accept?: TcpState[], ignore?: TcpState[] }
  }
}

/** What the keepalived side knows, to tell which Address Ignore entries hafw derives itself. */
export interface ConntrackFacts {
  /** Canonical virtual addresses. */
  readonly vips: readonly string[]
  /** Canonical addresses known to be this node's own. */
  readonly localAddresses: readonly string[]
}

/** conntrackd protocol names (read_config_lex.l takes names from /etc/protocols, any case). */
const PROTOCOLS: Readonly<Record<string, ProtocolName>> = {
  tcp: 'tcp', udp: 'udp', udplite: 'udplite', sctp: 'sctp', dccp: 'dccp', icmp: 'icmp', 'ipv6-icmp': 'icmpv6', icmpv6: 'icmpv6', gre: 'gre'
}
const ALL_PROTOCOLS: readonly ProtocolName[] = ['tcp', 'udp', 'udplite', 'sctp', 'dccp', 'icmp', 'icmpv6', 'gre']

/** conntrackd TCP state names → hafw's (CLOSED is the kernel's CLOSE, LISTEN the old name of SYN_SENT2). */
const TCP_STATES: Readonly<Record<string, TcpState>> = {
  SYN_SENT: 'SYN_SENT', SYN_RECV: 'SYN_RECV', ESTABLISHED: 'ESTABLISHED', FIN_WAIT: 'FIN_WAIT', CLOSE_WAIT: 'CLOSE_WAIT',
  LAST_ACK: 'LAST_ACK', TIME_WAIT: 'TIME_WAIT', CLOSED: 'CLOSE', CLOSE: 'CLOSE', LISTEN: 'SYN_SENT2', SYN_SENT2: 'SYN_SENT2'
}

const GENERAL_NOT_NEEDED: Readonly<Record<string, string>> = {
  HashSize: 'hafwd sizes its caches itself',
  HashLimit: 'hafwd sizes its caches itself',
  NetlinkBufferSize: 'hafwd starts with a 64 MiB event buffer instead of growing a small one (conntrack.eventBuffer) and recovers from overruns with a dump',
  NetlinkBufferSizeMaxGrowth: 'hafwd starts with a 64 MiB event buffer instead of growing a small one (conntrack.eventBuffer)',
  NetlinkOverrunResync: 'hafwd resyncs from the kernel after an overrun by itself',
  NetlinkEventsReliable: 'hafwd recovers lost events with a dump',
  EventIterationLimit: 'not needed by hafwd',
  LogFile: 'hafwd logs JSON lines to stdout (journald)',
  Syslog: 'hafwd logs JSON lines to stdout (journald)',
  LockFile: 'hafwd is one daemon',
  UNIX: 'hafwd has its own control socket (control.socket); conntrackd -c/-f/... are done in-process',
  Systemd: 'hafwd runs under systemd as a simple service',
  Nice: 'set Nice= in the systemd unit',
  Scheduler: 'set CPUSchedulingPolicy= in the systemd unit',
  NetlinkEventsFilter: 'not needed by hafwd',
  StripNAT: 'not needed by hafwd'
}

function int (word: string | undefined): number | null {
  return word !== undefined && /^[0-9]+$/.test(word) ? Number(word) : null
}

function onOff (word: string | undefined): boolean | null {
  const w = word?.toLowerCase()
  if (w === 'on' || w === 'yes' || w === 'true') return true
  if (w === 'off' || w === 'no' || w === 'false') return false
  return null
}

export function translateConntrackd (stmts: readonly ConfStmt[], facts: ConntrackFacts, ledger: Ledger, file: string): ConntrackOut {
  const out: ConntrackOut = {
    sync: { checksum: true, ftfw: {} },
    // conntrackd replicates every protocol when no Protocol filter is set (hafw's default is tcp, sctp, dccp).
    filter: { protocols: { accept: [...ALL_PROTOCOLS] } }
  }
  let sawProtocolFilter = false
  let sawStartupResync = false
  let mode: ConfStmt | null = null
  for (const s of stmts) {
    const kw = s.words[0] as string
    if (kw === 'Sync' && s.children !== null) {
      ledger.translated(s, 'conntrack.sync')
      const r = sync(s.children, out, ledger)
      mode = r.mode
      sawStartupResync ||= r.startupResync
    } else if (kw === 'General' && s.children !== null) {
      ledger.translated(s, '(general settings)')
      sawProtocolFilter = general(s.children, out, facts, ledger)
    }
  }
  if (!sawProtocolFilter) {
    ledger.fileNote(file, 'note', 'Filter Protocol (absent)', 'conntrackd replicates every protocol without a Protocol filter: written as filter.protocols.accept listing all of them (hafw\'s default would be tcp, sctp, dccp)')
  }
  if (!sawStartupResync) {
    // hafw's start-up resync (demoted priority until the peer's table is in) is the point of
    // decision 5; conntrackd has it off by default. Keep conntrackd's behaviour, say how to turn it on.
    out.startupResyncTimeout = '0s'
    const where = mode ?? stmts.find(s => s.words[0] === 'Sync')
    const msg = 'StartupResync is off in conntrackd by default: written as startupResyncTimeout: 0s. hafw can fetch the peer\'s table at start-up and stay demoted until it has it — set e.g. 5s to use that'
    if (where !== undefined) ledger.note(where, msg)
    else ledger.fileNote(file, 'note', 'StartupResync (absent)', msg)
  }
  if (out.sync.transport === undefined) ledger.fileNote(file, 'attention', 'Sync (no UDP or Multicast block)', 'no transport found: conntrack.sync is incomplete')
  return out
}

function sync (children: readonly ConfStmt[], out: ConntrackOut, ledger: Ledger): { mode: ConfStmt | null, startupResync: boolean } {
  let mode: ConfStmt | null = null
  let startupResync = false
  let transportStmt: ConfStmt | null = null
  for (const s of children) {
    const kw = s.words[0] as string
    if (kw === 'Mode') {
      mode = s
      const m = s.words[1]?.toUpperCase()
      if (m === 'FTFW') ledger.translated(s, 'conntrack.sync.ftfw')
      else ledger.attention(s, `Mode ${s.words[1] ?? ''}: hafw speaks FTFW only; translated as FTFW — a peer still running conntrackd must switch to Mode FTFW too`)
      // Every option is translated: no short-circuit once StartupResync was seen (issue 11).
      for (const c of s.children ?? []) {
        const r = ftfwOption(c, out, ledger)
        if (r === null) ledger.attention(c, `not a conntrackd 1.4 Mode ${s.words[1] ?? ''} option (conntrackd would refuse the file): not translated`)
        else if (r) startupResync = true
      }
    } else if (kw === 'UDP' || kw === 'Multicast') {
      if (transportStmt !== null) {
        ledger.wholeBlock(s, 'attention', `a second dedicated link: hafw uses one sync link (the first, ${transportStmt.words.join(' ')} at line ${transportStmt.line}); not translated`)
        continue
      }
      transportStmt = s
      if (kw === 'UDP') udp(s, out, ledger)
      else multicast(s, out, ledger)
      if (s.words[1] === 'Default') ledger.note(s, '"Default" has no meaning with a single link')
    } else if (kw === 'TCP') {
      ledger.wholeBlock(s, 'attention', 'the TCP transport is not supported by hafw (UDP or multicast only): not translated')
    } else if (kw === 'Options') {
      ledger.translated(s, '(sync options)')
      for (const c of s.children ?? []) {
        const o = c.words[0]
        if (o === 'TCPWindowTracking') {
          if (onOff(c.words[1]) === true) ledger.attention(c, 'hafw does not replicate TCP window tracking state: not translated')
          else ledger.note(c, 'off, as hafw')
        } else if (o === 'ExpectationSync') {
          if (c.children === null && onOff(c.words[1]) === false) ledger.note(c, 'off, as hafw')
          else ledger.wholeBlock(c, 'attention', 'hafw does not replicate expectations (FTP, SIP, ... helpers): not translated')
        }
      }
    } else {
      // conntrackd accepts the FTFW options outside `Mode FTFW { }` in older files.
      if (ftfwOption(s, out, ledger) === true) startupResync = true
    }
  }
  return { mode, startupResync }
}

/**
 * One `Mode FTFW { ... }` option (conntrackd 1.4 read_config_yy.y: ResendQueueSize, CommitTimeout,
 * PurgeTimeout, ACKWindowSize, DisableExternalCache, StartupResync; the ALARM/NOTRACK ones are
 * reported): true when it set StartupResync, false when handled, null when it is no FTFW option.
 */
function ftfwOption (c: ConfStmt, out: ConntrackOut, ledger: Ledger): boolean | null {
  const o = c.words[0]
  const v = c.words[1]
  switch (o) {
    case 'ResendQueueSize': {
      const n = int(v)
      if (n === null || n < 1 || n > 16_777_216) ledger.attention(c, 'must be 1..16777216: default 131072 used')
      else { out.sync.ftfw.resendQueueSize = n; ledger.translated(c, 'conntrack.sync.ftfw.resendQueueSize') }
      return false
    }
    case 'ACKWindowSize': {
      const n = int(v)
      if (n === null || n < 1 || n > 65535) ledger.attention(c, 'must be 1..65535: default 300 used')
      else { out.sync.ftfw.ackWindowSize = n; ledger.translated(c, 'conntrack.sync.ftfw.ackWindowSize') }
      return false
    }
    case 'PurgeTimeout': {
      const n = int(v)
      if (n === null || n > 3600) ledger.attention(c, 'must be 0..3600 seconds: default 60s used')
      else { out.purgeTimeout = formatMs(n * 1000); ledger.translated(c, 'conntrack.purgeTimeout') }
      return false
    }
    case 'CommitTimeout': {
      const n = int(v)
      if (n === null) ledger.attention(c, 'must be a number of seconds: not translated')
      else {
        ledger.attention(c, `not translated: hafwd has no commit timeout key — on takeover it commits each entry with its replicated remaining timeout ` +
          `(conntrackd's behaviour without CommitTimeout) instead of a fixed ${n}s, so entries that were not recovered are not purged after ${n}s but live out ` +
          'their own timeouts (an ESTABLISHED TCP entry keeps its kernel timeout, 5 days by default). ' +
          'While the peer still runs conntrackd with CommitTimeout set, it sends no timeouts, so hafwd commits its entries with 60s (conntrackd\'s fallback)')
      }
      return false
    }
    case 'DisableExternalCache': {
      const on = onOff(v)
      if (on === null) ledger.attention(c, 'takes on/off: ignored')
      else { out.disableExternalCache = on; ledger.translated(c, 'conntrack.disableExternalCache') }
      return false
    }
    case 'DisableInternalCache':
      ledger.attention(c, 'hafw always keeps an internal cache (needed for bulk sends; conntrackd allows this in Mode NOTRACK only): not translated')
      return false
    case 'ResendBufferSize':
      ledger.attention(c, 'deprecated in conntrackd (a size in bytes, replaced by ResendQueueSize in objects): not translated — set conntrack.sync.ftfw.resendQueueSize if the default 131072 does not fit')
      return false
    case 'StartupResync': {
      const on = onOff(v)
      if (on === true) {
        out.startupResyncTimeout = '5s'
        ledger.translated(c, 'conntrack.startupResyncTimeout')
        ledger.note(c, 'hafw bounds the start-up resync: written as startupResyncTimeout: 5s (the node advertises a demoted priority until the table is in)')
        return true
      }
      if (on === false) {
        out.startupResyncTimeout = '0s'
        ledger.translated(c, 'conntrack.startupResyncTimeout: 0s')
        return true
      }
      ledger.attention(c, 'takes on/off: ignored')
      return false
    }
    case 'RefreshTime':
    case 'CacheTimeout':
      ledger.attention(c, 'ALARM mode setting: hafw speaks FTFW only; not translated')
      return false
    default:
      return null
  }
}

function linkCommon (c: ConfStmt, out: ConntrackOut, ledger: Ledger): boolean {
  const o = c.words[0]
  const v = c.words[1]
  if (o === 'Interface' && v !== undefined) {
    out.sync.interface = v
    ledger.translated(c, 'conntrack.sync.interface')
    return true
  }
  if (o === 'SndSocketBuffer' || o === 'RcvSocketBuffer') {
    const n = int(v)
    const key = o === 'SndSocketBuffer' ? 'sndBuffer' : 'rcvBuffer'
    if (n === null || n < 4096) ledger.attention(c, 'must be at least 4096 bytes: kernel default used')
    else { out.sync[key] = n; ledger.translated(c, `conntrack.sync.${key}`) }
    return true
  }
  if (o === 'Checksum') {
    const on = onOff(v)
    if (on === null) ledger.attention(c, 'takes on/off: default on used')
    else { out.sync.checksum = on; ledger.translated(c, 'conntrack.sync.checksum') }
    return true
  }
  return false
}

function udp (s: ConfStmt, out: ConntrackOut, ledger: Ledger): void {
  out.sync.transport = 'udp'
  const u: NonNullable<ConntrackOut['sync']['udp']> = { port: 3780 }
  out.sync.udp = u
  ledger.translated(s, 'conntrack.sync.transport: udp')
  for (const c of s.children ?? []) {
    if (linkCommon(c, out, ledger)) continue
    const o = c.words[0] as string
    const v = c.words[1]
    if (o === 'IPv4_address' || o === 'IPv6_address' || o === 'IPv4_Destination_Address' || o === 'IPv6_Destination_Address') {
      const a = v === undefined ? null : parseAddress(v)
      if (a === null || !a.ok) { ledger.attention(c, 'not an IP address: not translated'); continue }
      const key = o.includes('Destination') ? 'peer' : 'address'
      u[key] = a.value.address
      ledger.translated(c, `conntrack.sync.udp.${key}`)
      if (a.value.address.startsWith('fe80:')) ledger.note(c, 'a link-local address: hafwd binds it on conntrack.sync.interface')
    } else if (o === 'Port') {
      const n = int(v)
      if (n === null || n < 1 || n > 65535) ledger.attention(c, 'must be 1..65535: default 3780 used')
      else { u.port = n; ledger.translated(c, 'conntrack.sync.udp.port') }
    }
  }
}

function multicast (s: ConfStmt, out: ConntrackOut, ledger: Ledger): void {
  out.sync.transport = 'multicast'
  const m: NonNullable<ConntrackOut['sync']['multicast']> = { group: '225.0.0.50', port: 3780 }
  out.sync.multicast = m
  ledger.translated(s, 'conntrack.sync.transport: multicast')
  for (const c of s.children ?? []) {
    if (linkCommon(c, out, ledger)) continue
    const o = c.words[0] as string
    const v = c.words[1]
    if (o === 'IPv4_address') {
      if (v === undefined || !isIPv4Multicast(v)) ledger.attention(c, 'not an IPv4 multicast address: default 225.0.0.50 used')
      else { m.group = v; ledger.translated(c, 'conntrack.sync.multicast.group') }
    } else if (o === 'Group') {
      const n = int(v)
      if (n === null || n < 1 || n > 65535) ledger.attention(c, 'must be a port 1..65535: default 3780 used')
      else { m.port = n; ledger.translated(c, 'conntrack.sync.multicast.port (conntrackd\'s Group is the UDP port)') }
    } else if (o === 'IPv4_interface') {
      const a = v === undefined ? null : parseAddress(v)
      if (a === null || !a.ok || a.value.family !== 'ipv4') ledger.attention(c, 'not an IPv4 address: not translated')
      else { m.interfaceAddress = a.value.address; ledger.translated(c, 'conntrack.sync.multicast.interfaceAddress') }
    } else if (o === 'IPv6_address' || o === 'IPv6_interface') {
      ledger.attention(c, 'hafw multicast sync is IPv4 only (as conntrackd\'s is in practice): not translated; use UDP over IPv6')
    }
  }
}

/** Returns true when a Protocol filter was seen. */
function general (children: readonly ConfStmt[], out: ConntrackOut, facts: ConntrackFacts, ledger: Ledger): boolean {
  let sawProtocol = false
  for (const s of children) {
    const kw = s.words[0] as string
    if (kw === 'Filter' && s.children !== null) {
      ledger.translated(s, 'conntrack.filter')
      if (s.words.slice(1).join(' ').toLowerCase() === 'from kernelspace') ledger.note(s, 'hafwd filters in user space; the result is the same')
      for (const f of s.children) {
        if (f.words[0] === 'Protocol') { sawProtocol = true; protocolFilter(f, out, ledger) } else if (f.words[0] === 'Address') addressFilter(f, out, facts, ledger)
        else if (f.words[0] === 'State') stateFilter(f, out, ledger)
      }
    } else if (GENERAL_NOT_NEEDED[kw] !== undefined) {
      const msg = `not needed: ${GENERAL_NOT_NEEDED[kw] as string}`
      if (s.children !== null) ledger.wholeBlock(s, 'note', msg)
      else ledger.note(s, msg)
    } else if (kw === 'PollSecs') {
      ledger.attention(s, 'polling mode is not supported: hafwd follows conntrack events (and dumps after overruns)')
    }
  }
  return sawProtocol
}

function policyOf (f: ConfStmt): 'accept' | 'ignore' | null {
  const p = f.words[1]?.toLowerCase()
  return p === 'accept' || p === 'ignore' ? p : null
}

function protocolFilter (f: ConfStmt, out: ConntrackOut, ledger: Ledger): void {
  const policy = policyOf(f)
  if (policy === null) { ledger.wholeBlock(f, 'attention', 'Protocol filter policy must be Accept or Ignore: not translated'); return }
  const list: ProtocolName[] = []
  for (const c of f.children ?? []) {
    const names: string[] = []
    for (const w of c.words) {
      const p = PROTOCOLS[w.toLowerCase()]
      if (p === undefined) names.push(w)
      else if (!list.includes(p)) list.push(p)
    }
    if (names.length > 0) ledger.attention(c, `protocol ${names.join(', ')} is not one hafw filters on (${ALL_PROTOCOLS.join(', ')}): not translated`)
    if (names.length < c.words.length) ledger.translated(c, `conntrack.filter.protocols.${policy}`)
  }
  if (list.length === 0) {
    ledger.attention(f, 'no protocol hafw knows: the filter is left out')
    return
  }
  out.filter.protocols = policy === 'accept' ? { accept: list } : { ignore: list }
  ledger.translated(f, `conntrack.filter.protocols.${policy}`)
}

function addressFilter (f: ConfStmt, out: ConntrackOut, facts: ConntrackFacts, ledger: Ledger): void {
  const policy = policyOf(f)
  if (policy !== 'ignore') {
    ledger.wholeBlock(f, 'attention', 'hafw has an address ignore list only (no Address Accept): not translated')
    return
  }
  ledger.translated(f, 'conntrack.filter.addresses.ignore')
  const vips = new Set(facts.vips)
  const local = new Set(facts.localAddresses)
  const sync = [out.sync.udp?.address, out.sync.multicast?.interfaceAddress].filter((a): a is string => a !== undefined)
  const kept: string[] = []
  for (const c of f.children ?? []) {
    const o = c.words[0]
    const v = c.words[1]
    if ((o !== 'IPv4_address' && o !== 'IPv6_address') || v === undefined) continue
    const cidr = parseCidr(v)
    if (!cidr.ok) { ledger.attention(c, 'not an address/prefix: not translated'); continue }
    const { address, prefix, family } = cidr.value
    const host = prefix === (family === 'ipv4' ? 32 : 128)
    if (host && (address === '::1' || address.startsWith('127.'))) {
      ledger.note(c, 'redundant: hafw always ignores loopback — dropped')
    } else if (family === 'ipv4' && prefix >= 8 && address.startsWith('127.')) {
      ledger.note(c, 'redundant: hafw always ignores loopback — dropped')
    } else if (host && vips.has(address)) {
      ledger.note(c, 'redundant: a virtual address, which hafw always ignores — dropped')
    } else if (host && (local.has(address) || sync.includes(address))) {
      ledger.note(c, 'redundant: an address of this node (advert source or sync link), which hafw ignores at run time — dropped')
    } else {
      const text = host ? address : `${address}/${prefix}`
      if (!kept.includes(text)) kept.push(text)
      ledger.translated(c, 'conntrack.filter.addresses.ignore')
      if (host) ledger.note(c, 'kept; hafwd also ignores every address of this node\'s interfaces at run time, so if this is one of them it can go')
    }
  }
  if (kept.length > 0) out.filter.addresses = { ignore: kept }
}

function stateFilter (f: ConfStmt, out: ConntrackOut, ledger: Ledger): void {
  const policy = policyOf(f)
  if (policy === null) { ledger.wholeBlock(f, 'attention', 'State filter policy must be Accept or Ignore: not translated'); return }
  const list: TcpState[] = []
  for (const c of f.children ?? []) {
    // "ESTABLISHED CLOSED TIME_WAIT CLOSE_WAIT for TCP": states up to "for", then the protocol.
    const forAt = c.words.findIndex(w => w.toLowerCase() === 'for')
    const states = forAt < 0 ? c.words : c.words.slice(0, forAt)
    const proto = forAt < 0 ? 'TCP' : (c.words[forAt + 1] ?? '')
    if (proto.toUpperCase() !== 'TCP') { ledger.attention(c, `state filters exist for TCP only in hafw (got ${proto}): not translated`); continue }
    const unknown: string[] = []
    const renamed: string[] = []
    for (const w of states) {
      const st = TCP_STATES[w.toUpperCase()]
      if (st === undefined) { unknown.push(w); continue }
      if (st !== w.toUpperCase()) renamed.push(`${w} → ${st}`)
      if (!list.includes(st)) list.push(st)
    }
    ledger.translated(c, `conntrack.filter.tcpStates.${policy}`)
    if (unknown.length > 0) ledger.attention(c, `unknown TCP state ${unknown.join(', ')}: not translated`)
    if (renamed.length > 0) ledger.note(c, `kernel names: ${renamed.join(', ')}`)
  }
  if (list.length === 0) { ledger.attention(f, 'no TCP state hafw knows: the filter is left out'); return }
  out.filter.tcpStates = policy === 'accept' ? { accept: list } : { ignore: list }
  ledger.translated(f, `conntrack.filter.tcpStates.${policy}`)
}
