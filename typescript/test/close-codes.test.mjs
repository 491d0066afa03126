// shouldReconnect and the close-code constants agree with
// schemas/close-codes.json, which the protocol crate generates
// (protocol/src/close_code.rs); run on the built package (npm run build).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { CLOSE_CODE_TABLE, CLOSE_CODES, shouldReconnect, TERMINAL_CLOSE_CODES, TERMINAL_CLOSE_RANGE } from "@brain/ws-protocol";

const data = JSON.parse(readFileSync(new URL("../../schemas/close-codes.json", import.meta.url), "utf8"));

test("every code of the table: name, meaning and reconnect as in the schema", () => {
  for (const { code, name, meaning, reconnect } of data.codes) {
    assert.equal(CLOSE_CODES[name], code);
    assert.deepEqual(CLOSE_CODE_TABLE[code], { name, meaning, reconnect });
    assert.equal(shouldReconnect(code), reconnect, `shouldReconnect(${code})`);
  }
  assert.equal(Object.keys(CLOSE_CODES).length, data.codes.length);
});

test("the rule beyond the table: terminal codes and range, everything else reconnects", () => {
  assert.deepEqual(TERMINAL_CLOSE_CODES, [1000, 1002, 1003, 1007, 1008]);
  assert.deepEqual(TERMINAL_CLOSE_RANGE, [4500, 4999]);
  const terminal = [1000, 1002, 1003, 1007, 1008, 4500, 4501, 4750, 4999];
  const transient = [1001, 1005, 1006, 1009, 1011, 1012, 1013, 3000, 4000, 4002, 4499, 5000];
  for (const code of terminal) assert.equal(shouldReconnect(code), false, `${code}`);
  for (const code of transient) assert.equal(shouldReconnect(code), true, `${code}`);
});
