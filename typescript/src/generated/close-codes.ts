/* Generated from schemas/close-codes.json by `npm run generate`. Do not edit. */

/**
 * Every close code of the protocol and the reconnect rule: a client reconnects (with backoff) after any close code except terminal_codes and the codes in terminal_range (inclusive). Generated from brain-ws-protocol (close_code.rs); docs/protocol.md, Close codes.
 */
export interface BRAiNWebSocketCloseCodes {
  [k: string]: unknown;
}
