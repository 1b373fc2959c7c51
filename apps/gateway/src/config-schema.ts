/**
 * The gateway configuration's JSON Schema (`apps/gateway/config.schema.json`, draft 2020-12) compiled
 * with ajv, and {@link schemaProblem}, which turns ajv's first error into ONE {@link ConfigError}
 * naming the JSON path (`interfaces[0].ip`) and saying what is wrong in words taken from the schema
 * (each syntax's `title`, each enum's values, each bound).
 *
 * The schema is the one source of the file's structure: editors complete and check a config file
 * against it (`"$schema"`), and the gateway validates with it. It is read from the package root, one
 * level above this module in both `src/` and `dist/`.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { ConfigError } from './config-error.js';

/** The schema's `$id`. */
export const CONFIG_SCHEMA_ID = 'urn:postern:gateway:config';

/** The parsed `config.schema.json`. */
export const CONFIG_SCHEMA: Readonly<Record<string, unknown>> = JSON.parse(
  readFileSync(new URL('../config.schema.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

/** Schema validators, compiled once on first use. */
interface Validators {
  /** The whole document; fills in the schema's defaults. */
  readonly config: ValidateFunction;
  /** One filter rule (`$defs/filterRule`). */
  readonly filterRule: ValidateFunction;
}

let compiled: Validators | undefined;

function validators(): Validators {
  if (compiled === undefined) {
    // strictRequired is off because `else: {required: ["ip"]}` names a property declared beside it.
    const ajv = new Ajv2020({ strict: true, strictRequired: false, useDefaults: true, verbose: true, allErrors: true });
    ajv.addSchema(CONFIG_SCHEMA);
    compiled = {
      config: ajv.getSchema(CONFIG_SCHEMA_ID)!,
      filterRule: ajv.compile({ $ref: `${CONFIG_SCHEMA_ID}#/$defs/filterRule` }),
    };
  }
  return compiled;
}

/**
 * Checks `doc` against the schema, filling in its defaults IN PLACE (pass a copy).
 * @param which `config` for a whole file, `filterRule` for one rule.
 * @param base the JSON path of `doc` itself (`''` for a file, `body` for an API request).
 * @throws {@link ConfigError} for the most specific problem at the first place ajv reported.
 */
export function checkAgainstSchema(which: keyof Validators, doc: unknown, base = ''): void {
  const validate = validators()[which];
  if (validate(doc)) return;
  throw schemaProblem(validate.errors ?? [], base);
}

/** JSON path text from ajv's JSON Pointer: `/interfaces/0/ip` -> `interfaces[0].ip`. */
export function jsonPath(pointer: string, base = ''): string {
  let out = base;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^(0|[1-9][0-9]*)$/.test(part)) out += `[${part}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/**
 * Picks one of ajv's errors (the first reported, or a more specific one inside the same value:
 * `interfaces[0].nic` is a bad NIC spec rather than `interfaces[0]` lacks an address because of it)
 * and words it. The errors of an `anyOf`'s branches give way to the `anyOf` itself.
 */
export function schemaProblem(errors: readonly ErrorObject[], base = ''): ConfigError {
  const branchOfAnyOf = (e: ErrorObject): boolean =>
    errors.some(
      (a) =>
        a !== e &&
        a.keyword === 'anyOf' &&
        a.instancePath === e.instancePath &&
        e.schemaPath.startsWith(`${a.schemaPath}/`),
    );
  const candidates = errors.filter((e) => !branchOfAnyOf(e));
  let chosen = candidates[0]!;
  for (;;) {
    const deeper = candidates.find((e) => e.instancePath.startsWith(`${chosen.instancePath}/`));
    if (deeper === undefined) break;
    chosen = deeper;
  }
  return describeError(chosen, base);
}

function describeError(e: ErrorObject, base: string): ConfigError {
  const path = jsonPath(e.instancePath, base);
  const schema = (e.parentSchema ?? {}) as Record<string, unknown>;
  const p = e.params as Record<string, unknown>;
  const value: unknown = e.data;
  const at = (key: string): string => (path === '' ? key : `${path}.${key}`);
  switch (e.keyword) {
    case 'additionalProperties':
      return new ConfigError(at(String(p['additionalProperty'])), 'is not a known field');
    case 'required':
      return new ConfigError(at(String(p['missingProperty'])), 'is missing');
    case 'type':
      return new ConfigError(path, `must be ${article(String(p['type']))}`, value);
    case 'enum':
      return new ConfigError(path, `must be ${orList((p['allowedValues'] as unknown[]).map(String))}`, value);
    case 'const':
      return new ConfigError(path, `must be ${JSON.stringify(p['allowedValue'])}`, value);
    case 'minimum':
    case 'maximum': {
      const min = schema['minimum'];
      const max = schema['maximum'];
      return new ConfigError(
        path,
        min !== undefined && max !== undefined
          ? `must be an integer in ${String(min)}..${String(max)}`
          : `must be ${String(p['comparison'])} ${String(p['limit'])}`,
        value,
      );
    }
    case 'minLength':
      return new ConfigError(path, 'must not be empty', value);
    case 'pattern':
    case 'anyOf':
      return new ConfigError(
        path,
        typeof schema['title'] === 'string' ? `is not ${article(schema['title'])}` : 'has the wrong form',
        value,
      );
    default:
      return new ConfigError(path, e.message ?? 'is not valid', value);
  }
}

/** `a NIC spec`, `an integer`, `an IPv4 address`. */
function article(noun: string): string {
  return /^([aeio]|u(?!se|ni))/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}

/** `a, b or c`, each quoted. */
function orList(items: readonly string[]): string {
  const q = items.map((i) => JSON.stringify(i));
  return q.length <= 1 ? (q[0] ?? 'nothing') : `${q.slice(0, -1).join(', ')} or ${q.at(-1)!}`;
}
