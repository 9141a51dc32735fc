// Listener-process framing: frames split across pipe chunks at every byte, several per chunk.
import t from 'tap'
import { FrameReader, ListenerFrame, encodeFrame } from '../../../src/io/ctnetlink-frames.js'

t.test('reassembles frames whatever the chunking', async t => {
  const frames = [
    encodeFrame(ListenerFrame.READY, Buffer.from('{"portId":1}')),
    encodeFrame(ListenerFrame.DATA, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8])),
    encodeFrame(ListenerFrame.DATA, Buffer.alloc(0)),
    encodeFrame(ListenerFrame.OVERRUN, Buffer.from('{"errno":"ENOBUFS"}'))
  ]
  const all = Buffer.concat(frames)
  for (let cut = 1; cut <= all.length; cut++) {
    const got: Array<[number, string]> = []
    const r = new FrameReader((k, b) => { got.push([k, b.toString('hex')]) })
    for (let o = 0; o < all.length; o += cut) r.push(all.subarray(o, o + cut))
    t.same(got, [[1, Buffer.from('{"portId":1}').toString('hex')], [2, '0102030405060708'], [2, ''], [3, Buffer.from('{"errno":"ENOBUFS"}').toString('hex')]], `chunks of ${cut}`)
  }
})
