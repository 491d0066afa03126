//! The WebSocket wire format (RFC 6455), written by hand so the floor server and
//! the bench clients pay for nothing but the bytes: the handshake's accept key,
//! frame headers, and masking.

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

/// The GUID RFC 6455 section 1.3 appends to the client's key.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Frames larger than this are refused: no bench message comes near it, so a
/// bigger length means the stream is out of sync.
pub const MAX_PAYLOAD: usize = 16 * 1024 * 1024;

/// Continuation frame.
pub const OP_CONTINUATION: u8 = 0x0;
/// Text frame.
pub const OP_TEXT: u8 = 0x1;
/// Binary frame.
pub const OP_BINARY: u8 = 0x2;
/// Close frame.
pub const OP_CLOSE: u8 = 0x8;
/// Ping frame.
pub const OP_PING: u8 = 0x9;
/// Pong frame.
pub const OP_PONG: u8 = 0xA;

/// Why a byte stream is not a valid WebSocket frame sequence.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    /// Reserved bits set without an extension negotiated.
    #[error("reserved bits set in frame header")]
    ReservedBits,
    /// A length over [`MAX_PAYLOAD`].
    #[error("frame payload of {0} bytes is too large")]
    TooLarge(u64),
}

/// The `Sec-WebSocket-Accept` value for a client's `Sec-WebSocket-Key`.
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// A parsed frame header; the payload is `buf[header_len..header_len + payload_len]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Last fragment of a message.
    pub fin: bool,
    /// One of the `OP_*` constants.
    pub opcode: u8,
    /// Bytes of header, including the mask key.
    pub header_len: usize,
    /// Bytes of payload.
    pub payload_len: usize,
    /// The masking key of a client-to-server frame.
    pub mask: Option<[u8; 4]>,
}

impl FrameHeader {
    /// Header plus payload: how many bytes the whole frame occupies.
    pub fn frame_len(&self) -> usize {
        self.header_len + self.payload_len
    }
}

/// Parses the frame header at the start of `buf`. `Ok(None)` means more bytes
/// are needed for the header or the payload.
pub fn parse_frame(buf: &[u8]) -> Result<Option<FrameHeader>, WireError> {
    let [b0, b1, ..] = *buf else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(WireError::ReservedBits);
    }
    let masked = b1 & 0x80 != 0;
    let (len, mut header_len) = match b1 & 0x7F {
        126 => {
            let Some(ext) = buf.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([ext[0], ext[1]])), 4)
        }
        127 => {
            let Some(ext) = buf.get(2..10) else {
                return Ok(None);
            };
            let mut b = [0u8; 8];
            b.copy_from_slice(ext);
            (u64::from_be_bytes(b), 10)
        }
        n => (u64::from(n), 2),
    };
    if len > MAX_PAYLOAD as u64 {
        return Err(WireError::TooLarge(len));
    }
    let mask = if masked {
        let Some(key) = buf.get(header_len..header_len + 4) else {
            return Ok(None);
        };
        header_len += 4;
        Some([key[0], key[1], key[2], key[3]])
    } else {
        None
    };
    let header = FrameHeader {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0F,
        header_len,
        payload_len: len as usize,
        mask,
    };
    if buf.len() < header.frame_len() {
        return Ok(None);
    }
    Ok(Some(header))
}

/// Encodes one complete (FIN) frame. Servers send `mask: None`; clients must
/// mask every frame they send.
pub fn encode_frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x80 | (opcode & 0x0F));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// Undoes (or applies) a mask in place.
pub fn apply_mask(payload: &mut [u8], key: [u8; 4]) {
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}
