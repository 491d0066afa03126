// Generates src/generated/**/*.ts from every JSON Schema under ../schemas
// (except asyncapi.json) with json-schema-to-typescript, plus
// src/generated/constants.ts: the runtime constants the schemas carry
// (reserved and control types, the event catalogue, the channel-name rule,
// the protocol version from asyncapi.json), and src/generated/close-codes.ts
// from schemas/close-codes.json (the close codes and the reconnect rule, data
// rather than a schema), so they cannot drift either.
//
//   node scripts/generate.mjs          write src/generated/
//   node scripts/generate.mjs --check  generate into a temp dir and fail if
//                                      src/generated/ differs (freshness)
//
// Two rewrites are applied to a copy of each schema before compiling; both
// keep its meaning (see README.md):
//  1. A `$ref` with sibling keywords (schemars emits them for the internally
//     tagged ServerMessage control variants) becomes the referenced definition
//     with the siblings merged in (`properties` and `required` unioned), titled
//     with the definition's name. json-schema-ref-parser merges such refs
//     shallowly, which would drop every property of the definition.
//  2. A schema with no type-determining keyword (any JSON value, e.g. `data`)
//     gets `tsType: "unknown"`; json-schema-to-typescript would otherwise emit
//     an object type, which rejects `null`, strings and arrays.
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const schemasDir = resolve(here, "../../schemas");
const generatedDir = resolve(here, "../src/generated");

/** Files in ../schemas that are not JSON Schemas (each has its own generator). */
const NOT_SCHEMAS = ["asyncapi.json", "close-codes.json"];

const TYPING_KEYWORDS = ["type", "$ref", "oneOf", "anyOf", "allOf", "enum", "const", "properties", "items", "not", "tsType"];
const SCHEMA_MAPS = ["$defs", "properties", "patternProperties"];
const SCHEMA_LISTS = ["oneOf", "anyOf", "allOf", "prefixItems"];
const SCHEMA_SINGLES = ["items", "additionalProperties", "not"];

function listSchemas(dir) {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listSchemas(join(dir, e.name)) : [join(dir, e.name)]))
    .filter((f) => f.endsWith(".json") && !NOT_SCHEMAS.includes(relative(schemasDir, f)))
    .sort();
}

function mergeRef(schema, defs) {
  const { $ref, ...siblings } = schema;
  const name = $ref.startsWith("#/$defs/") ? $ref.slice("#/$defs/".length) : undefined;
  const extra = Object.keys(siblings).filter((k) => k !== "description" && k !== "title");
  if (!name || !defs?.[name] || extra.length === 0) return schema;
  const def = defs[name];
  return {
    ...def,
    ...siblings,
    title: name,
    description: def.description ?? siblings.description,
    properties: { ...def.properties, ...siblings.properties },
    required: [...new Set([...(siblings.required ?? []), ...(def.required ?? [])])],
  };
}

function rewrite(schema, defs) {
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return schema;
  let out = typeof schema.$ref === "string" ? mergeRef(schema, defs) : { ...schema };
  if (!TYPING_KEYWORDS.some((k) => k in out)) out.tsType = "unknown";
  for (const key of SCHEMA_MAPS) {
    if (out[key]) out[key] = Object.fromEntries(Object.entries(out[key]).map(([k, v]) => [k, rewrite(v, defs)]));
  }
  for (const key of SCHEMA_LISTS) {
    if (Array.isArray(out[key])) out[key] = out[key].map((v) => rewrite(v, defs));
  }
  for (const key of SCHEMA_SINGLES) {
    if (out[key] && typeof out[key] === "object") out[key] = rewrite(out[key], defs);
  }
  return out;
}

async function generate(outDir) {
  const written = [];
  for (const file of listSchemas(schemasDir)) {
    const rel = relative(schemasDir, file);
    const schema = JSON.parse(readFileSync(file, "utf8"));
    const prepared = rewrite(schema, schema.$defs);
    delete prepared.tsType; // the root is always typed
    const ts = await compile(prepared, schema.title ?? rel, {
      bannerComment: `/* Generated from schemas/${rel} by \`npm run generate\`. Do not edit. */`,
      additionalProperties: false,
      cwd: dirname(file),
      format: true,
    });
    const target = join(outDir, rel.replace(/\.json$/, ".ts"));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, ts);
    written.push(relative(outDir, target));
  }
  writeFileSync(join(outDir, "constants.ts"), constants());
  written.push("constants.ts");
  writeFileSync(join(outDir, "close-codes.ts"), closeCodes());
  written.push("close-codes.ts");
  return written;
}

function readSchema(rel) {
  return JSON.parse(readFileSync(join(schemasDir, rel), "utf8"));
}

function typeConsts(oneOf) {
  return oneOf.map((branch) => branch.properties.type.const);
}

function constants() {
  const server = readSchema("server-message.json");
  const client = readSchema("client-message.json");
  const channel = server.$defs.ChannelName;
  const catalogue = Object.fromEntries(
    listSchemas(join(schemasDir, "events")).map((f) => [
      relative(join(schemasDir, "events"), f).replace(/\.json$/, ""),
      typeConsts(readSchema(relative(schemasDir, f)).oneOf),
    ]),
  );
  const lit = (v) => JSON.stringify(v);
  return `/* Generated from schemas/ by \`npm run generate\`. Do not edit. */

/** The protocol identifier (\`connected.protocol\`), from schemas/asyncapi.json. */
export const PROTOCOL_VERSION = ${lit(readSchema("asyncapi.json").info.version)};

/** Types an event may not use: the protocol's own message types. */
export const RESERVED_TYPES = ${lit(server.$defs.EventType.not.enum)} as const;

/** The \`type\` of every server control message; any other \`type\` is an event. */
export const CONTROL_TYPES = ${lit(typeConsts(server.$defs.Control.oneOf))} as const;

/** The \`type\` of every client message. */
export const CLIENT_TYPES = ${lit(typeConsts(client.oneOf))} as const;

/** Longest channel name, in characters (all allowed characters are ASCII). */
export const MAX_CHANNEL_LEN = ${channel.maxLength};

/** What a valid channel name matches. */
export const CHANNEL_NAME_PATTERN = new RegExp(${lit(channel.pattern)});

/** Longest event type, in characters (all allowed characters are ASCII). */
export const MAX_EVENT_TYPE_LEN = ${server.$defs.EventType.maxLength};

/** What a valid event type matches (it must also not be one of \`RESERVED_TYPES\`). */
export const EVENT_TYPE_PATTERN = new RegExp(${lit(server.$defs.EventType.pattern)});

/** The event types of each standard channel. */
export const EVENT_CATALOGUE = ${JSON.stringify(catalogue, null, 2)} as const;
`;
}

function closeCodes() {
  const data = readSchema("close-codes.json");
  const lit = (v) => JSON.stringify(v);
  const [lo, hi] = data.terminal_range;
  const named = data.codes
    .map((c) => `  /** ${c.code}: ${c.meaning}. ${c.reconnect ? "Reconnect with backoff." : "Terminal: do not reconnect."} */\n  ${c.name}: ${c.code},`)
    .join("\n");
  const table = data.codes
    .map((c) => `  ${c.code}: { name: ${lit(c.name)}, meaning: ${lit(c.meaning)}, reconnect: ${c.reconnect} },`)
    .join("\n");
  return `/* Generated from schemas/close-codes.json by \`npm run generate\`. Do not edit. */

/** The close codes of the protocol by name (docs/protocol.md, Close codes). */
export const CLOSE_CODES = {
${named}
} as const;

/** The name of a close code of the protocol. */
export type CloseCodeName = keyof typeof CLOSE_CODES;

/** Every close code of the protocol with its name, meaning and whether a client reconnects after it. */
export const CLOSE_CODE_TABLE: { readonly [code: number]: { readonly name: CloseCodeName; readonly meaning: string; readonly reconnect: boolean } } = {
${table}
};

/** Codes after which a client never reconnects (besides \`TERMINAL_CLOSE_RANGE\`). */
export const TERMINAL_CLOSE_CODES: readonly number[] = ${lit(data.terminal_codes)};

/** The inclusive range of terminal application codes: the same attempt would fail the same way. */
export const TERMINAL_CLOSE_RANGE: readonly [number, number] = [${lo}, ${hi}];

/**
 * The protocol's reconnect rule, \`should_reconnect\` of protocol/src/close_code.rs:
 * \`false\` after ${data.terminal_codes.join(", ")} and ${lo}–${hi}, \`true\` after
 * any other code (with backoff), including 1006 and codes outside the table.
 */
export function shouldReconnect(code: number): boolean {
  return !(TERMINAL_CLOSE_CODES.includes(code) || (code >= ${lo} && code <= ${hi}));
}
`;
}

function listTs(dir) {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? listTs(join(dir, e.name)).map((f) => join(e.name, f)) : [e.name]))
      .filter((f) => f.endsWith(".ts"))
      .sort();
  } catch {
    return [];
  }
}

if (process.argv.includes("--check")) {
  const tmp = mkdtempSync(join(tmpdir(), "brain-ws-ts-"));
  try {
    const fresh = (await generate(tmp)).sort();
    const committed = listTs(generatedDir);
    const stale = [...new Set([...fresh, ...committed])].filter((f) => {
      const read = (d) => {
        try {
          return readFileSync(join(d, f), "utf8");
        } catch {
          return undefined;
        }
      };
      return read(tmp) !== read(generatedDir);
    });
    if (stale.length > 0) {
      console.error(`src/generated/ is stale (differs from ../schemas): ${stale.join(", ")}`);
      console.error("Run `npm run generate` and commit the result.");
      process.exit(1);
    }
    console.log(`src/generated/ is fresh (${fresh.length} files).`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
} else {
  rmSync(generatedDir, { recursive: true, force: true });
  const written = await generate(generatedDir);
  console.log(`wrote ${written.length} files to src/generated/`);
}
