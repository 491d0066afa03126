//! The record of what one scenario sent and received, kept as evidence for
//! its verdict. Long transcripts (hundreds of events) keep their beginning
//! and end.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::report::{Direction, Evidence, Frame};

/// Frames kept from the start of a scenario.
const HEAD: usize = 60;
/// Frames kept from the end of a scenario.
const TAIL: usize = 140;
/// Longest frame text kept; longer frames are cut and their length noted.
const MAX_TEXT: usize = 600;

/// A shared, append-only recorder for one scenario's frames.
#[derive(Clone)]
pub(crate) struct Transcript {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    started: Instant,
    head: Vec<Frame>,
    tail: VecDeque<Frame>,
    omitted: usize,
}

impl Transcript {
    /// A transcript whose clock starts now.
    pub(crate) fn new() -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                started: Instant::now(),
                head: Vec::new(),
                tail: VecDeque::new(),
                omitted: 0,
            })),
        }
    }

    /// Records one frame or note.
    pub(crate) fn record(&self, conn: &str, direction: Direction, text: &str) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let frame = Frame {
            at: inner.started.elapsed().as_secs_f64(),
            conn: conn.to_owned(),
            direction,
            text: cut(text),
        };
        if inner.head.len() < HEAD {
            inner.head.push(frame);
            return;
        }
        inner.tail.push_back(frame);
        if inner.tail.len() > TAIL {
            inner.tail.pop_front();
            inner.omitted += 1;
        }
    }

    /// The frames recorded so far.
    pub(crate) fn evidence(&self) -> Evidence {
        let Ok(inner) = self.inner.lock() else {
            return Evidence::default();
        };
        let mut frames = inner.head.clone();
        frames.extend(inner.tail.iter().cloned());
        Evidence {
            frames,
            omitted: inner.omitted,
        }
    }
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}
