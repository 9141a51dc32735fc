/**
 * Node/V8 flags and environment the daemon runs with, given by every launcher: bin/hafwd
 * (shebang), the package's /usr/bin/hafwd shim (packaging/deb/build.sh), the lab and the tests
 * (src/lab/hafwd-process.ts). test/unit/main/node-flags.test.ts checks that they agree.
 *
 * --max-semi-space-size=1 (MiB): the main thread runs VRRP and allocates little; V8's default young
 * generation (up to 16 MiB per semi-space) only made the idle daemon ~24 MiB bigger (RSS 113 →
 * 88 MiB measured on the lab, conntrack on), and smaller scavenges are shorter pauses for the
 * advert timers. The conntrack worker, which allocates per event, keeps V8's default young
 * generation through its own resourceLimits (runtime/conntrack-wiring.ts).
 *
 * --expose-gc: the conntrack worker collects its heap once, 5 s after its start
 * (runtime/heap-settle.ts): its start-up garbage otherwise stayed until V8's memory reducer came
 * round ~17 s after start, 3–5 MiB of RSS. Nothing else calls gc().
 */
export const HAFWD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--expose-gc']

/**
 * Environment of the daemon's process. MALLOC_ARENA_MAX=1: glibc gives each thread that mallocs
 * its own arena (the main thread, the conntrack worker, libuv's pool), each keeping freed memory
 * for itself; one arena measured 7-9 MiB less RSS on the sync bench's sender and receiver
 * (116 / 105 MiB holding 100k entries instead of 124-126 / 111), with no latency change. V8's
 * heaps do not use malloc, so the one arena's lock is rarely contended. Read by glibc at start,
 * so it is set before node runs (the shebang's `env -S`, the package shim's export).
 */
export const HAFWD_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1' }
