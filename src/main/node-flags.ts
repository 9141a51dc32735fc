/**
 * Node/V8 flags the daemon runs with, given on its command line by every launcher: bin/hafwd
 * (shebang), the package's /usr/bin/hafwd shim (packaging/deb/build.sh), the lab and the tests
 * (src/lab/hafwd-process.ts). test/unit/main/node-flags.test.ts checks that they agree.
 *
 * --max-semi-space-size=1 (MiB): the main thread runs VRRP and allocates little; V8's default young
 * generation (up to 16 MiB per semi-space) only made the idle daemon ~24 MiB bigger (RSS 113 →
 * 88 MiB measured on the lab, conntrack on), and smaller scavenges are shorter pauses for the
 * advert timers. The conntrack worker, which allocates per event, keeps V8's default young
 * generation through its own resourceLimits (runtime/conntrack-wiring.ts).
 */
export const HAFWD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1']
