//! How a scenario ends early: a failure with its reason, or a skip decided
//! at run time (a limit too large to probe, a missing credential).

/// Why a scenario stopped before its end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stop {
    /// The server broke the protocol; the text says how.
    Fail(String),
    /// The scenario cannot run against this server; the text says why.
    Skip(String),
}

/// The result of a scenario or of one of its steps.
pub(crate) type Outcome<T = ()> = Result<T, Stop>;

/// Ends the scenario with a failure whose reason is `format!(...)`.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::outcome::Stop::Fail(format!($($arg)*)))
    };
}

/// Fails the scenario with `format!(...)` unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        let holds: bool = $cond;
        if !holds {
            $crate::outcome::fail!($($arg)*);
        }
    };
}

/// Ends the scenario as skipped, with `format!(...)` as the reason.
macro_rules! skip {
    ($($arg:tt)*) => {
        return Err($crate::outcome::Stop::Skip(format!($($arg)*)))
    };
}

pub(crate) use {ensure, fail, skip};
