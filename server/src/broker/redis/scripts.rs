//! The Lua scripts of the Redis broker. Each runs atomically in Redis, which
//! is what makes offsets, history and delivery order agree on every node:
//! the offset is taken, the event appended to the stream and published in
//! one step, so the order of offsets is the order in which every node's
//! subscription receives the events.
//!
//! Keys: `KEYS[1]` the channel's meta hash (`epoch`, `top`), `KEYS[2]` its
//! stream. A missing meta hash means the history is gone (never created,
//! expired, or Redis lost its data): a new epoch starts, and the stream is
//! cleared so its ids (`<offset>-0`) restart at 1.

use redis::Script;

/// Publishes a history event. KEYS[3]: the idempotency marker (or empty).
/// ARGV: new epoch (used only if none exists), the frame without its
/// closing brace, stream MAXLEN, stream TTL ms, meta TTL ms, pub/sub
/// channel, idempotency window ms. Returns `{epoch, offset, receiving
/// nodes}`, or `{"", 0, -1}` when the idempotency key was already used.
pub(crate) fn publish() -> Script {
    Script::new(
        r#"
if KEYS[3] ~= '' and not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[7]) then
  return {'', 0, -1}
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
end
local offset = redis.call('HINCRBY', KEYS[1], 'top', 1)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local frame = ARGV[2] .. ',"offset":' .. string.format('%d', offset) .. '}'
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[3], string.format('%d', offset) .. '-0',
  't', string.format('%d', now), 'f', frame)
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
local n = redis.call('PUBLISH', ARGV[6],
  'h' .. epoch .. ' ' .. string.format('%d', offset) .. '\n' .. frame)
return {epoch, offset, n}
"#,
    )
}

/// Publishes a message without history, once per idempotency key.
/// KEYS[1]: the idempotency marker. ARGV: pub/sub channel, message,
/// idempotency window ms. Returns the receiving nodes, or -1 when the key
/// was already used.
pub(crate) fn publish_once() -> Script {
    Script::new(
        r#"
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[3]) then
  return -1
end
return redis.call('PUBLISH', ARGV[1], ARGV[2])
"#,
    )
}

/// Reads a channel's position and the entries a read asks for. ARGV: new
/// epoch (used only if none exists), mode, meta TTL ms, most entries to
/// return, and for mode `after` the position's epoch and offset. Modes:
/// `none` (position only), `latest` (the newest entries), `after` (the
/// entries after the position when it is of this epoch, else from the
/// oldest, as when it is beyond the top). Returns `{epoch, top, now_ms, id1, t1, frame1, id2, ...}`,
/// entries oldest first; the caller applies the rule both brokers share
/// (`history::page`).
pub(crate) fn position() -> Script {
    Script::new(
        r#"
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local top = 0
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'top', 0)
else
  top = tonumber(redis.call('HGET', KEYS[1], 'top') or '0')
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {epoch, top, now}
local mode = ARGV[2]
local entries = {}
if mode == 'latest' then
  local newest = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[4])
  for i = #newest, 1, -1 do table.insert(entries, newest[i]) end
elseif mode == 'after' then
  local start = '-'
  local since = tonumber(ARGV[6])
  if ARGV[5] == epoch and since <= top then
    start = string.format('%d', since + 1) .. '-0'
  end
  entries = redis.call('XRANGE', KEYS[2], start, '+', 'COUNT', ARGV[4])
end
for _, e in ipairs(entries) do
  local fields = e[2]
  local at, frame = '0', ''
  for i = 1, #fields, 2 do
    if fields[i] == 't' then at = fields[i + 1] elseif fields[i] == 'f' then frame = fields[i + 1] end
  end
  table.insert(out, e[1])
  table.insert(out, at)
  table.insert(out, frame)
end
return out
"#,
    )
}
