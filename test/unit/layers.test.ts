// The folders import each other only as the README's Layout table says, and never in a circle.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCycle, folderEdges, graphOf, layerViolations, layoutRules, sourceFiles } from '../helpers/import-layers.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

function check(root: string, readme: string): { problems: string[]; cycle: string[] | null } {
  const files = sourceFiles(root);
  const edges = folderEdges(root, files);
  const folders = new Set(files.filter((f) => f.includes('/')).map((f) => f.slice(0, f.indexOf('/'))));
  return { problems: layerViolations(edges, folders, layoutRules(readme)), cycle: findCycle(graphOf(edges)) };
}

test('every folder imports only what its Layout row allows, and no folders import each other in a circle', () => {
  const { problems, cycle } = check(ROOT, readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.deepEqual(problems, []);
  assert.equal(cycle, null, `folders import each other in a circle: ${cycle?.join(' -> ')}`);
});

test('the check fails on an injected cycle and on a folder the table does not name', () => {
  const root = mkdtempSync(join(tmpdir(), 'layers-'));
  try {
    const file = (path: string, text: string) => {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    file('low/a.ts', "import { b } from '../high/b.js';\nexport const a = 1;\n");
    file('high/b.ts', "import { a } from '../low/a.js';\nexport const b = a;\n");
    file('stray/c.ts', 'export const c = 1;\n');
    const readme = '## Layout\n\n| folder | owns | may import |\n|---|---|---|\n| `low/` | x | nothing |\n| `high/` | y | `low/` |\n\n## Next\n';
    const { problems, cycle } = check(root, readme);
    assert.ok(cycle && cycle.length === 3 && cycle[0] === cycle[2] && new Set(cycle).size === 2, `cycle: ${cycle?.join(' -> ')}`);
    assert.ok(problems.some((p) => p.startsWith('low/ may not import high/')), problems.join('\n'));
    assert.ok(problems.includes("folder stray/ is not in the README's Layout table"), problems.join('\n'));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
