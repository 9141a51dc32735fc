import v8 from 'node:v8'
for (const m of process.argv.slice(2)) if (m !== 'none') await import(m.startsWith('.') ? m : m)
for (let i = 0; i < 10; i++) globalThis.gc()
const h = v8.getHeapStatistics()
console.log(process.argv.slice(2).join(' ').padEnd(50), 'used', (h.used_heap_size/1048576).toFixed(2), 'physical', (h.total_physical_size/1048576).toFixed(2))
