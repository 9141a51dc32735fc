/**
 * Loader of the vrrp6 addon (native/vrrp6): IPv6 VRRP receive with the hop limit. Built by
 * `npm ci` (the package's install script); null when it is missing, so the caller can fall back
 * and say so.
 */
import { createRequire } from 'node:module'
import { addonPath } from './addon-path.js'

export interface Vrrp6Addon {
  open: (ifname: string, ifindex: number, joinGroup: boolean, onPacket: (data: Buffer, src: string, dst: string, hopLimit: number) => void) => unknown
  close: (handle: unknown) => void
}

/** native/vrrp6/build/Release/vrrp6.node above this module (src/io, dist/io, or a package's lib dir). */
export function vrrp6Path (): string | null {
  return addonPath('vrrp6')
}

export function loadVrrp6 (): Vrrp6Addon | null {
  const path = vrrp6Path()
  if (path === null) return null
  try {
    return createRequire(import.meta.url)(path) as Vrrp6Addon
  } catch {
    return null
  }
}
