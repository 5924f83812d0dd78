// Repeated searches in one server session: CPU of the server per search
// (utime+stime from /proc, so other load on the machine does not count),
// wall time, cache stats from bank_stats.
import fs from 'node:fs';
import { connect, sleep } from '/work/main/tests/interop/lib.mjs';
const root = process.argv[2], rounds = Number(process.argv[3] || 5), query = process.argv[4] || 'stale connection';
const cpu = (pid) => { const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const s = await connect({ roots: [root] });
const out = [];
for (let i = 0; i < rounds; i++) {
  const c0 = cpu(s.pid), t0 = Date.now();
  const r = await s.client.callTool({ name: 'search_memory_bank', arguments: { query } }, undefined, { timeout: 600000 });
  const sc = r.structuredContent;
  out.push(`${i}: ${sc.filesSearched} files, ${Date.now() - t0} ms wall, ${cpu(s.pid) - c0} ms cpu, ${(sc.filesSearched / (Date.now() - t0) * 1000).toFixed(0)} files/s`);
}
const st = await s.client.callTool({ name: 'bank_stats', arguments: {} });
out.push(JSON.stringify(st.structuredContent.cache));
console.log(out.join('\n'));
await s.client.close();
