/**
 * tcpdump inside a lab namespace, for tests that must see what went on the wire (GARP, NA,
 * priority-0 adverts). Started and stopped by PID; the capture file is read back with tcpdump.
 * `-Z root`: Debian's tcpdump otherwise drops to its own user and cannot write into a private
 * (0700) test directory. `--immediate-mode`: without it packets wait in the kernel ring for up to
 * a second and are lost when the capture is stopped.
 */
import { execa } from 'execa'
import type { ResultPromise } from 'execa'
import { sh } from './sh.js'

export interface Capture {
  /** Stop tcpdump and return its decoded text (`tcpdump -r -n -e -v`), one packet per line group. */
  stop: () => Promise<string>
}

export async function startCapture (ns: string, ifname: string, filter: string, file: string): Promise<Capture> {
  const proc: ResultPromise = execa('ip', ['netns', 'exec', ns, 'tcpdump', '-Z', 'root', '--immediate-mode', '-B', '16384', '-i', ifname, '-n', '-U', '-w', file, filter], { reject: false, stdin: 'ignore' })
  // tcpdump says "listening on" on stderr once the capture is armed.
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`tcpdump in ${ns} did not start`)) }, 5000)
    proc.stderr?.on('data', (d: Buffer) => { if (d.toString().includes('listening on')) { clearTimeout(timer); resolve() } })
    void proc.then(r => { clearTimeout(timer); reject(new Error(`tcpdump exited: ${String(r.stderr)}`)) })
  })
  return {
    stop: async () => {
      await new Promise(resolve => setTimeout(resolve, 100))
      proc.kill('SIGTERM')
      await proc
      return await sh('tcpdump', ['-r', file, '-n', '-e', '-v'], { allowFail: true })
    }
  }
}
