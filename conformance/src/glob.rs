//! `*` wildcard matching, the one pattern language of the suite: scenario
//! filters (`errors.*`) and the server's channel patterns (`chat:*`) in
//! `GET /api/ws/info`.

/// Whether `text` matches `pattern`, where `*` matches any run of
/// characters (including none) and everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Classic two-pointer wildcard match with backtracking to the last star.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether scenario `id` is selected by `patterns`: every id when there are
/// none; otherwise an id matching a pattern with `*`, equal to a pattern, or
/// inside a pattern's group (`errors` selects `errors.binary` and
/// `errors.invalid_channel.empty`).
pub fn matches_filter(id: &str, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    patterns.iter().any(|p| {
        if p.contains('*') {
            glob_match(p, id)
        } else {
            id == p
                || id
                    .strip_prefix(p.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stars_match_any_run() {
        assert!(glob_match("chat:*", "chat:room1"));
        assert!(glob_match("chat:*", "chat:"));
        assert!(!glob_match("chat:*", "chatroom"));
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("missions", "missions"));
        assert!(!glob_match("missions", "missions2"));
    }

    #[test]
    fn filters_select_groups_ids_and_globs() {
        let f = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(matches_filter("errors.binary", &f(&[])));
        assert!(matches_filter("errors.binary", &f(&["errors"])));
        assert!(matches_filter(
            "errors.invalid_channel.empty",
            &f(&["errors.invalid_channel"])
        ));
        assert!(!matches_filter("errors_x.binary", &f(&["errors"])));
        assert!(matches_filter("heartbeat.timeout", &f(&["*.timeout"])));
        assert!(!matches_filter(
            "heartbeat.cadence",
            &f(&["*.timeout", "connect"])
        ));
    }
}
