/**
 * The conntrack flow model lives with the codecs that read and write it (src/codec/flow.ts): the
 * ctnetlink codec builds flows, so the type sits in the lower layer and core re-exports it.
 */
export * from '../../codec/flow.js'
