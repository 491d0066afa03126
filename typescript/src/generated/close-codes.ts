/* Generated from schemas/close-codes.json by `npm run generate`. Do not edit. */

/** The close codes of the protocol by name (docs/protocol.md, Close codes). */
export const CLOSE_CODES = {
  /** 1000: normal closure (the client asked to close). Terminal: do not reconnect. */
  normal: 1000,
  /** 1001: the server is shutting down or restarting. Reconnect with backoff. */
  going_away: 1001,
  /** 1002: WebSocket protocol error. Terminal: do not reconnect. */
  protocol_error: 1002,
  /** 1007: a text frame was not valid UTF-8. Terminal: do not reconnect. */
  invalid_payload: 1007,
  /** 1006: the connection dropped without a close frame (never sent). Reconnect with backoff. */
  abnormal: 1006,
  /** 1009: a frame exceeded the server's max_message_size. Reconnect with backoff. */
  message_too_big: 1009,
  /** 1011: unexpected server error. Reconnect with backoff. */
  internal_error: 1011,
  /** 4000: no pong or other message within the heartbeat timeout. Reconnect with backoff. */
  heartbeat_timeout: 4000,
  /** 4001: the connection's outbound queue overflowed. Reconnect with backoff. */
  slow_consumer: 4001,
  /** 4002: the connection's token expired: reconnect with a fresh token. Reconnect with backoff. */
  token_expired: 4002,
  /** 4003: the user's connection limit is reached. Reconnect with backoff. */
  user_connection_limit: 4003,
  /** 4004: the first exchange did not complete in time. Reconnect with backoff. */
  handshake_timeout: 4004,
  /** 4500: the credentials were refused. Terminal: do not reconnect. */
  unauthorized: 4500,
  /** 4501: closed for sustained abuse (rate limit). Terminal: do not reconnect. */
  policy_violation: 4501,
} as const;

/** The name of a close code of the protocol. */
export type CloseCodeName = keyof typeof CLOSE_CODES;

/** Every close code of the protocol with its name, meaning and whether a client reconnects after it. */
export const CLOSE_CODE_TABLE: { readonly [code: number]: { readonly name: CloseCodeName; readonly meaning: string; readonly reconnect: boolean } } = {
  1000: { name: "normal", meaning: "normal closure (the client asked to close)", reconnect: false },
  1001: { name: "going_away", meaning: "the server is shutting down or restarting", reconnect: true },
  1002: { name: "protocol_error", meaning: "WebSocket protocol error", reconnect: false },
  1007: { name: "invalid_payload", meaning: "a text frame was not valid UTF-8", reconnect: false },
  1006: { name: "abnormal", meaning: "the connection dropped without a close frame (never sent)", reconnect: true },
  1009: { name: "message_too_big", meaning: "a frame exceeded the server's max_message_size", reconnect: true },
  1011: { name: "internal_error", meaning: "unexpected server error", reconnect: true },
  4000: { name: "heartbeat_timeout", meaning: "no pong or other message within the heartbeat timeout", reconnect: true },
  4001: { name: "slow_consumer", meaning: "the connection's outbound queue overflowed", reconnect: true },
  4002: { name: "token_expired", meaning: "the connection's token expired: reconnect with a fresh token", reconnect: true },
  4003: { name: "user_connection_limit", meaning: "the user's connection limit is reached", reconnect: true },
  4004: { name: "handshake_timeout", meaning: "the first exchange did not complete in time", reconnect: true },
  4500: { name: "unauthorized", meaning: "the credentials were refused", reconnect: false },
  4501: { name: "policy_violation", meaning: "closed for sustained abuse (rate limit)", reconnect: false },
};

/** Codes after which a client never reconnects (besides `TERMINAL_CLOSE_RANGE`). */
export const TERMINAL_CLOSE_CODES: readonly number[] = [1000,1002,1003,1007,1008];

/** The inclusive range of terminal application codes: the same attempt would fail the same way. */
export const TERMINAL_CLOSE_RANGE: readonly [number, number] = [4500, 4999];

/**
 * The protocol's reconnect rule, `should_reconnect` of protocol/src/close_code.rs:
 * `false` after 1000, 1002, 1003, 1007, 1008 and 4500–4999, `true` after
 * any other code (with backoff), including 1006 and codes outside the table.
 */
export function shouldReconnect(code: number): boolean {
  return !(TERMINAL_CLOSE_CODES.includes(code) || (code >= 4500 && code <= 4999));
}
