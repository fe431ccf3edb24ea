// The folder layering, read from the code: which top-level folder imports which.
// The allowed imports come from the README's Layout table, so the check and the
// documentation cannot drift apart.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';

export type FolderGraph = Map<string, Set<string>>;

export interface Edge {
  from: string;
  to: string;
  /** A file and the import that makes the edge, for the message. */
  example: string;
}

const SKIP = new Set(['node_modules', 'dist', '.git']);
const IMPORT = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every .ts file under `root`, relative, with forward slashes. */
export function sourceFiles(root: string, dir = root): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (SKIP.has(name) || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(root, path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(root, path).split(sep).join('/'));
  }
  return out;
}

/** Folder-to-folder imports (relative imports only; a folder importing itself is not an edge). */
export function folderEdges(root: string, files: string[]): Edge[] {
  const edges = new Map<string, Edge>();
  for (const file of files) {
    const from = topFolder(file);
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const target = normalize(join(dirname(file), m[1]!)).split(sep).join('/');
      const to = topFolder(target);
      if (to === from || to.startsWith('..')) continue;
      const key = `${from}->${to}`;
      if (!edges.has(key)) edges.set(key, { from, to, example: `${file} imports ${m[1]}` });
    }
  }
  return [...edges.values()];
}

function topFolder(path: string): string {
  const i = path.indexOf('/');
  return i < 0 ? '.' : path.slice(0, i);
}

export function graphOf(edges: Edge[]): FolderGraph {
  const g: FolderGraph = new Map();
  for (const e of edges) {
    if (!g.has(e.from)) g.set(e.from, new Set());
    g.get(e.from)!.add(e.to);
  }
  return g;
}

/** One cycle of folders if there is any, as [a, b, ..., a]; else null. */
export function findCycle(g: FolderGraph): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, 'open');
    path.push(node);
    for (const next of g.get(node) ?? []) {
      if (state.get(next) === 'open') return [...path.slice(path.indexOf(next)), next];
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of g.keys()) {
    if (state.has(node)) continue;
    const found = visit(node);
    if (found) return found;
  }
  return null;
}

/**
 * The README's Layout table: `| \`folder/\` | what it owns | may import |`, the last
 * column a comma-separated list of folders (`nothing`, or `everything` for the top).
 */
export function layoutRules(readme: string): Map<string, Set<string> | 'everything'> {
  const section = /^## Layout\n([\s\S]*?)(?=^## )/m.exec(readme);
  if (!section) throw new Error('README has no "## Layout" section');
  const rules = new Map<string, Set<string> | 'everything'>();
  for (const line of section[1]!.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const folder = /^`([a-z-]+)\/`$/.exec(cells[1] ?? '');
    if (!folder || cells.length < 5) continue;
    const allowed = cells[3]!;
    if (allowed === 'everything') rules.set(folder[1]!, 'everything');
    else if (allowed === 'nothing') rules.set(folder[1]!, new Set());
    else rules.set(folder[1]!, new Set(allowed.split(',').map((s) => s.trim().replace(/^`|\/`$/g, ''))));
  }
  return rules;
}

/** Imports the rules do not allow, and folders the rules do not name. */
export function layerViolations(edges: Edge[], folders: Iterable<string>, rules: Map<string, Set<string> | 'everything'>): string[] {
  const problems: string[] = [];
  for (const folder of folders) {
    if (folder !== '.' && !rules.has(folder)) problems.push(`folder ${folder}/ is not in the README's Layout table`);
  }
  for (const e of edges) {
    const allowed = rules.get(e.from);
    if (!allowed || allowed === 'everything') continue;
    if (!allowed.has(e.to)) problems.push(`${e.from}/ may not import ${e.to}/ (${e.example})`);
  }
  return problems;
}
