use brain_ws_bench::wire::{
    self, MAX_PAYLOAD, OP_CLOSE, OP_PING, OP_TEXT, WireError, accept_key, apply_mask, encode_frame,
    parse_frame,
};

#[test]
fn accept_key_matches_rfc_6455_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn every_length_encoding_round_trips_masked_and_unmasked() {
    for len in [0usize, 1, 125, 126, 127, 65_535, 65_536, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        for mask in [None, Some([1, 2, 3, 4])] {
            let frame = encode_frame(OP_TEXT, &payload, mask);
            let h = parse_frame(&frame).unwrap().unwrap();
            let expected_header = match len {
                0..=125 => 2,
                126..=65_535 => 4,
                _ => 10,
            } + if mask.is_some() { 4 } else { 0 };
            assert_eq!(h.header_len, expected_header, "len {len}");
            assert_eq!(h.payload_len, len);
            assert_eq!(h.frame_len(), frame.len());
            assert!(h.fin);
            assert_eq!(h.opcode, OP_TEXT);
            assert_eq!(h.mask, mask);
            let mut body = frame[h.header_len..].to_vec();
            if let Some(key) = mask {
                apply_mask(&mut body, key);
            }
            assert_eq!(body, payload);
        }
    }
}

#[test]
fn incomplete_frames_ask_for_more_bytes() {
    let frame = encode_frame(OP_PING, b"hello", Some([9, 9, 9, 9]));
    for cut in 0..frame.len() {
        assert_eq!(parse_frame(&frame[..cut]), Ok(None), "cut at {cut}");
    }
    let long = encode_frame(OP_TEXT, &[b'a'; 300], None);
    assert_eq!(parse_frame(&long[..3]), Ok(None));
    assert_eq!(parse_frame(&long[..299]), Ok(None));
}

#[test]
fn parses_two_frames_back_to_back() {
    let mut buf = encode_frame(OP_TEXT, b"one", None);
    buf.extend(encode_frame(OP_CLOSE, &1001u16.to_be_bytes(), None));
    let first = parse_frame(&buf).unwrap().unwrap();
    assert_eq!(&buf[first.header_len..first.frame_len()], b"one");
    let second = parse_frame(&buf[first.frame_len()..]).unwrap().unwrap();
    assert_eq!(second.opcode, wire::OP_CLOSE);
    assert_eq!(second.payload_len, 2);
}

#[test]
fn reserved_bits_and_huge_lengths_are_errors() {
    assert_eq!(parse_frame(&[0xC1, 0x00]), Err(WireError::ReservedBits));
    let mut huge = vec![0x81, 127];
    huge.extend_from_slice(&(MAX_PAYLOAD as u64 + 1).to_be_bytes());
    assert_eq!(
        parse_frame(&huge),
        Err(WireError::TooLarge(MAX_PAYLOAD as u64 + 1))
    );
}
