/**
 * What the projects of the workspace import: {@link workspaceProjects} lists them (the root
 * package.json's `workspaces`), {@link projectImports} reads every module of one and returns the
 * packages its published code and its tests import by bare specifier, and
 * {@link relativeImportGraph} gives the module graph its relative imports make.
 *
 * Imports are read with TypeScript's own scanner and parser (`ts.preProcessFile`): static imports
 * and re-exports (type-only ones too: a published `.d.ts` keeps them), `import()`, `require()` and
 * `require.resolve()` with a string literal. Text in comments and strings is never mistaken for an
 * import.
 */
import { builtinModules } from 'node:module';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));

/** The fields of a package.json these checks read. */
export interface PackageJson {
  readonly name: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { optional?: boolean }>>;
}

/** One project of the workspace. */
export interface WorkspaceProject {
  /** Its directory relative to the root, `packages/nic`. */
  readonly dir: string;
  /** Its package.json. */
  readonly pkg: PackageJson;
}

/** Reads a JSON file. */
export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Every project the root package.json's `workspaces` globs (`packages/*`, ...) name, sorted by directory. */
export function workspaceProjects(): WorkspaceProject[] {
  const globs = readJson<{ workspaces: string[] }>(join(ROOT, 'package.json')).workspaces;
  const projects: WorkspaceProject[] = [];
  for (const glob of globs) {
    if (!glob.endsWith('/*')) throw new Error(`workspace glob ${glob}: only "<dir>/*" is understood here`);
    const parent = glob.slice(0, -2);
    for (const entry of readdirSync(join(ROOT, parent)).sort()) {
      const dir = `${parent}/${entry}`;
      if (existsSync(join(ROOT, dir, 'package.json')))
        projects.push({ dir, pkg: readJson<PackageJson>(join(ROOT, dir, 'package.json')) });
    }
  }
  return projects;
}

/** Directories never read: build output, installed packages, and fixtures that are projects of their own. */
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'dist', 'pack-consumer', 'lwip']);
const MODULE_FILE = /\.(?:[cm]?ts|[cm]?js)$/;
const TEST_FILE = /\.test\.[cm]?ts$/;

function walk(dir: string, out: string[]): string[] {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      if (!SKIPPED_DIRECTORIES.has(entry)) walk(path, out);
    } else if (MODULE_FILE.test(entry) && !entry.endsWith('.d.ts')) {
      out.push(path);
    }
  }
  return out;
}

/** The modules of a project, absolute paths: `source` (what it runs and publishes: `src/` but its tests, `bin/`) and `test` (`test/`, `src/**\/*.test.ts`, configs). */
export function projectModules(dir: string): { source: string[]; test: string[] } {
  const abs = join(ROOT, dir);
  const source: string[] = [];
  const test: string[] = [];
  for (const file of [...walk(join(abs, 'src'), []), ...walk(join(abs, 'bin'), [])])
    (TEST_FILE.test(file) ? test : source).push(file);
  test.push(...walk(join(abs, 'test'), []));
  for (const config of readdirSync(abs)) if (/^vitest\.config\.[cm]?ts$/.test(config)) test.push(join(abs, config));
  return { source, test };
}

/**
 * Every module specifier `file` imports, re-exports, `import()`s or `require()`s with a string
 * literal, and every one it resolves the way Node would load it (`require.resolve('x/package.json')`,
 * `createRequire(...).resolve(...)`, `import.meta.resolve(...)`: finding a package's files is using it).
 */
export function moduleSpecifiers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
  if (text.includes('.resolve('))
    specifiers.push(...resolvedSpecifiers(ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false)));
  return specifiers;
}

/** The string literals given to `require.resolve`, `createRequire(...).resolve` and `import.meta.resolve` in `source`. */
function resolvedSpecifiers(source: ts.SourceFile): string[] {
  const out: string[] = [];
  const isResolver = (target: ts.Expression): boolean =>
    (ts.isIdentifier(target) && target.text === 'require') ||
    (ts.isMetaProperty(target) && target.keywordToken === ts.SyntaxKind.ImportKeyword) ||
    (ts.isCallExpression(target) && ts.isIdentifier(target.expression) && target.expression.text === 'createRequire');
  const visit = (node: ts.Node): void => {
    if (
      ts.isCallExpression(node) &&
      ts.isPropertyAccessExpression(node.expression) &&
      node.expression.name.text === 'resolve' &&
      isResolver(node.expression.expression)
    ) {
      const [first] = node.arguments;
      if (first !== undefined && ts.isStringLiteralLike(first)) out.push(first.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const BUILTINS = new Set(builtinModules);

/** The package a bare specifier names (`@scope/name` or `name`, without a subpath); undefined for relative paths and Node builtins. */
export function packageOfSpecifier(specifier: string): string | undefined {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return BUILTINS.has(name) ? undefined : name;
}

/** A package a project imports, with the first file (relative to the root) that imports it. */
export type ImportedPackages = Map<string, string>;

function importedPackages(files: readonly string[], self: string): ImportedPackages {
  const found: ImportedPackages = new Map();
  for (const file of files) {
    for (const specifier of moduleSpecifiers(file)) {
      const pkg = packageOfSpecifier(specifier);
      if (pkg !== undefined && pkg !== self && !found.has(pkg)) found.set(pkg, relative(ROOT, file));
    }
  }
  return found;
}

/** The packages a project's published code (`source`) and its tests (`test`) import by bare specifier (itself and Node builtins excluded). */
export function projectImports(project: WorkspaceProject): { source: ImportedPackages; test: ImportedPackages } {
  const modules = projectModules(project.dir);
  return {
    source: importedPackages(modules.source, project.pkg.name),
    test: importedPackages(modules.test, project.pkg.name),
  };
}

const RESOLVE_SUFFIXES = ['', '.ts', '.mts', '.js', '.mjs', '/index.ts', '/index.js'];

/** Resolves a relative specifier the way the sources write them (`./x.js` for `./x.ts`); undefined when no file matches. */
function resolveRelative(from: string, specifier: string): string | undefined {
  const base = resolve(dirname(from), specifier);
  const candidates = [base.replace(/\.([cm]?)js$/, '.$1ts'), base];
  for (const candidate of candidates) {
    for (const suffix of RESOLVE_SUFFIXES) {
      const path = candidate + suffix;
      if (existsSync(path) && statSync(path).isFile()) return path;
    }
  }
  return undefined;
}

/**
 * The graph of `files` by their relative imports (type-only ones included: they tie the modules'
 * designs together as much as value imports do). Keys and values are paths relative to the root;
 * imports of files outside `files` are left out.
 */
export function relativeImportGraph(files: readonly string[]): Map<string, string[]> {
  const inSet = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets: string[] = [];
    for (const specifier of moduleSpecifiers(file)) {
      if (!specifier.startsWith('.')) continue;
      const target = resolveRelative(file, specifier);
      if (target !== undefined && inSet.has(target) && !targets.includes(relative(ROOT, target)))
        targets.push(relative(ROOT, target));
    }
    graph.set(relative(ROOT, file), targets);
  }
  return graph;
}
