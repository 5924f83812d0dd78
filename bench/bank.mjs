// bench/bank.mjs: helpers bench/driver.mjs and bench/scale.mjs share.
import fs from 'node:fs';
import path from 'node:path';

// Every regular file under root, relative, in byte order of names (as a
// sorted walk gives them).
export function listBank(root) {
  const files = [];
  const walk = rel => {
    const ents = fs.readdirSync(path.join(root, rel), { withFileTypes: true });
    ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of ents) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r); else if (e.isFile()) files.push(r);
    }
  };
  walk('');
  return files;
}

// n entries spread evenly over list (all of it when n >= its length).
export function stride(list, n) {
  if (n >= list.length) return list.slice();
  const out = [];
  const step = list.length / n;
  for (let k = 0; k < n; k++) out.push(list[Math.floor(k * step)]);
  return out;
}

// fn(item, index) over items, at most conc at a time.
export async function pool(items, conc, fn) {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(conc, items.length) }, async () => {
    while (i < items.length) { const k = i++; await fn(items[k], k); }
  }));
}
