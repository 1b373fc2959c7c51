/**
 * Heap bytes per connection by kind of object: what a process keeps for each of N connections, from two
 * V8 heap snapshots of it, one taken before the connections (BEFORE) and one while it holds them (AFTER).
 * Every node's self size is tallied by kind (an object's constructor, or for arrays, closures, contexts,
 * strings and backing stores their type and the object that holds them), AFTER minus BEFORE, divided by N.
 * Several runs (e.g. two builds) print side by side, with the difference of the last against the first.
 *
 *   node --import tsx tools/bench/src/heap-per-connection.ts [--top 40] LABEL=N:BEFORE:AFTER [LABEL=N:BEFORE:AFTER ...]
 *
 * Take the snapshots from the shipped bin: `node --heapsnapshot-signal=SIGUSR2 .../postern-gateway.js ...`, then
 * `kill -USR2 PID` once before and once after opening the connections (each signal writes one
 * `Heap.*.heapsnapshot` into the working directory; the process pauses while it writes).
 *
 * Off-heap memory is shown apart: ArrayBuffer backing stores appear in the snapshot as native nodes
 * (`system / JSArrayBufferData`), counted in the `off-heap` total, not in the `JS heap` total.
 */
import { readFileSync } from 'node:fs';

/** The parts of a `.heapsnapshot` (V8's JSON heap snapshot format) this summary reads. */
export interface HeapSnapshotJson {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_fields: readonly string[];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
  };
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly strings: readonly string[];
}

/** One kind of node and what the snapshot holds of it. */
export interface KindTally {
  /** Instances. */
  count: number;
  /** Sum of their self sizes, bytes. */
  bytes: number;
}

/** Node names of generic containers: a node they hold is charged to the object that holds them instead. */
const GENERIC_OWNERS = new Set([
  'Object',
  'Array',
  'Map',
  'Set',
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Buffer',
  'FastBuffer',
  'Uint8Array',
  'Int8Array',
  'Uint16Array',
  'Int16Array',
  'Uint32Array',
  'Int32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
]);

/** How far up its first retainers a node's holder is looked for. */
const OWNER_HOPS = 6;

/** The native node type V8 gives ArrayBuffer backing stores. */
const BACKING_STORE = 'system / JSArrayBufferData';

/**
 * Tallies `snap` by kind. With `withOwner`, nodes that are not plain objects (arrays, closures,
 * contexts, strings, numbers, backing stores) and instances of generic containers ({@link GENERIC_OWNERS})
 * are keyed with their holder: `kind <- Holder.edge` (the first strong retainer, followed up to
 * {@link OWNER_HOPS} hops to the first non-generic object).
 */
export function tallyByKind(snap: HeapSnapshotJson, withOwner: boolean): Map<string, KindTally> {
  const meta = snap.snapshot.meta;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nType = meta.node_fields.indexOf('type');
  const nName = meta.node_fields.indexOf('name');
  const nSize = meta.node_fields.indexOf('self_size');
  const nEdges = meta.node_fields.indexOf('edge_count');
  const eType = meta.edge_fields.indexOf('type');
  const eName = meta.edge_fields.indexOf('name_or_index');
  const eTo = meta.edge_fields.indexOf('to_node');
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const { nodes, edges, strings } = snap;
  const count = nodes.length / nf;
  const typeOf = (n: number): string => nodeTypes[nodes[n * nf + nType]!] ?? '?';
  const nameOf = (n: number): string => strings[nodes[n * nf + nName]!] ?? '?';

  // First strong retainer of every node (and the edge's label), for the holder of non-object nodes.
  const retainer = new Int32Array(count).fill(-1);
  const retainerEdge = new Int32Array(count).fill(-1);
  if (withOwner) {
    const weak = edgeTypes.indexOf('weak');
    const shortcut = edgeTypes.indexOf('shortcut');
    let e = 0;
    for (let n = 0; n < count; n++) {
      const from = typeOf(n);
      const edgeCount = nodes[n * nf + nEdges]!;
      for (let k = 0; k < edgeCount; k++, e += ef) {
        const t = edges[e + eType]!;
        if (t === weak || t === shortcut || from === 'synthetic') continue;
        const to = edges[e + eTo]! / nf;
        if (retainer[to] === -1) {
          retainer[to] = n;
          retainerEdge[to] = e;
        }
      }
    }
  }
  const edgeLabel = (e: number): string => {
    const t = edgeTypes[edges[e + eType]!];
    const v = edges[e + eName]!;
    return t === 'element' || t === 'hidden' ? '[]' : `.${strings[v] ?? v}`;
  };
  const holderOf = (n: number): string => {
    let path = '';
    let at = n;
    for (let hop = 0; hop < OWNER_HOPS; hop++) {
      const up = retainer[at]!;
      if (up === -1) return `(root)${path}`;
      path = edgeLabel(retainerEdge[at]!) + path;
      at = up;
      const t = typeOf(at);
      if ((t === 'object' || t === 'closure') && !GENERIC_OWNERS.has(nameOf(at))) return `${nameOf(at)}${path}`;
    }
    return `${typeOf(at)}:${nameOf(at)}${path}`;
  };

  const out = new Map<string, KindTally>();
  for (let n = 0; n < count; n++) {
    const type = typeOf(n);
    const name = nameOf(n);
    let kind: string;
    if (type === 'object') kind = name;
    else if (type === 'string' || type === 'concatenated string' || type === 'sliced string') kind = `(${type})`;
    else if (type === 'number') kind = '(heap number)';
    else if (type === 'closure') kind = `(closure ${name || 'anonymous'})`;
    else kind = `(${type}) ${name}`;
    if (withOwner && (type !== 'object' || GENERIC_OWNERS.has(name))) kind = `${kind} <- ${holderOf(n)}`;
    const size = nodes[n * nf + nSize]!;
    const t = out.get(kind);
    if (t === undefined) out.set(kind, { count: 1, bytes: size });
    else {
      t.count++;
      t.bytes += size;
    }
  }
  return out;
}

/** A kind's count and bytes per connection: (AFTER - BEFORE) / N. */
export interface PerConnection {
  readonly count: number;
  readonly bytes: number;
}

/** Per-connection growth of every kind between `before` and `after` over `n` connections. */
export function perConnection(
  before: Map<string, KindTally>,
  after: Map<string, KindTally>,
  n: number,
): Map<string, PerConnection> {
  const out = new Map<string, PerConnection>();
  for (const kind of new Set([...before.keys(), ...after.keys()])) {
    const a = after.get(kind) ?? { count: 0, bytes: 0 };
    const b = before.get(kind) ?? { count: 0, bytes: 0 };
    out.set(kind, { count: (a.count - b.count) / n, bytes: (a.bytes - b.bytes) / n });
  }
  return out;
}

/** Whether a kind is off-heap memory (an ArrayBuffer backing store). */
export const isOffHeap = (kind: string): boolean => kind.startsWith(`(native) ${BACKING_STORE}`);

/** One `LABEL=N:BEFORE:AFTER` argument. */
export interface Run {
  readonly label: string;
  readonly n: number;
  readonly before: string;
  readonly after: string;
}

/** Parses `LABEL=N:BEFORE:AFTER`; throws a one-line error naming the argument when malformed. */
export function parseRun(arg: string): Run {
  const m = /^([^=]+)=(\d+):([^:]+):([^:]+)$/.exec(arg);
  if (m === null || Number(m[2]) <= 0) throw new Error(`expected LABEL=N:BEFORE:AFTER with N > 0, got "${arg}"`);
  return { label: m[1]!, n: Number(m[2]), before: m[3]!, after: m[4]! };
}

const load = (file: string): HeapSnapshotJson => JSON.parse(readFileSync(file, 'utf8')) as HeapSnapshotJson;

const isMain = process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, '/'));
if (isMain) {
  const args = process.argv.slice(2);
  let top = 40;
  const t = args.indexOf('--top');
  if (t !== -1) {
    top = Number(args[t + 1]);
    args.splice(t, 2);
  }
  let runs: Run[];
  try {
    if (!(top > 0)) throw new Error('--top takes a positive count');
    if (args.length === 0) throw new Error('no runs given');
    runs = args.map(parseRun);
  } catch (e) {
    console.error(`heap-per-connection: ${(e as Error).message}`);
    console.error('usage: heap-per-connection.ts [--top 40] LABEL=N:BEFORE:AFTER [LABEL=N:BEFORE:AFTER ...]');
    process.exit(2);
  }
  const tables: [Map<string, PerConnection>, Map<string, PerConnection>][] = [];
  for (const r of runs) {
    const before = load(r.before);
    const after = load(r.after);
    tables.push([
      perConnection(tallyByKind(before, false), tallyByKind(after, false), r.n),
      perConnection(tallyByKind(before, true), tallyByKind(after, true), r.n),
    ]);
  }
  const fmt = (v: number | undefined, w: number, d = 0): string => (v === undefined ? '-' : v.toFixed(d)).padStart(w);
  for (const [which, title] of [
    [0, 'by kind'],
    [1, 'by kind and holder'],
  ] as const) {
    const views = tables.map((x) => x[which]);
    const kinds = new Set(views.flatMap((v) => [...v.keys()]));
    const bytesOf = (v: Map<string, PerConnection>, k: string): number => v.get(k)?.bytes ?? 0;
    const first = views[0]!;
    const last = views.at(-1)!;
    const diff = (k: string): number => bytesOf(last, k) - bytesOf(first, k);
    const head =
      runs.map((r) => `${`${r.label} B/c`.padStart(12)}${`n/c`.padStart(7)}`).join('') +
      (runs.length > 1 ? '    diff B/c' : '');
    for (const [order, sortBy] of [
      ['largest', (k: string) => Math.max(...views.map((v) => Math.abs(bytesOf(v, k))))],
      ...(runs.length > 1 ? [['largest difference', (k: string) => Math.abs(diff(k))] as const] : []),
    ] as const) {
      console.log(`\nheap bytes per connection ${title}, ${order} first (top ${top}):`);
      console.log(`${head}  kind`);
      for (const k of [...kinds].sort((a, b) => sortBy(b) - sortBy(a)).slice(0, top)) {
        const cols = views.map((v) => `${fmt(v.get(k)?.bytes, 12)}${fmt(v.get(k)?.count, 7, 2)}`).join('');
        console.log(`${cols}${runs.length > 1 ? fmt(diff(k), 12) : ''}  ${k}`);
      }
    }
    if (which === 0) {
      console.log('\ntotals per connection:');
      for (const [i, v] of views.entries()) {
        let heap = 0;
        let offHeap = 0;
        for (const [k, p] of v) {
          if (isOffHeap(k)) offHeap += p.bytes;
          else heap += p.bytes;
        }
        console.log(
          `${runs[i]!.label.padStart(12)}: JS heap ${heap.toFixed(0)} B, off-heap (ArrayBuffer stores) ${offHeap.toFixed(0)} B`,
        );
      }
    }
  }
}
