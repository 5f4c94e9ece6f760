//! Durations as people type them: `30d`, `12h`, `2w`, `90m`, `45s`, or combined `1d12h`.

use chrono::Duration;

/// Parses a duration; a bare number is refused (days? hours?).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = |why: &str| {
        format!("invalid duration {text:?}: {why} (expected e.g. 30d, 12h, 2w, 90m, 1d12h)")
    };
    if text.is_empty() {
        return Err(bad("empty"));
    }
    let mut total = Duration::zero();
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number
            .parse()
            .map_err(|_| bad("a unit needs a number before it"))?;
        number.clear();
        let part = match c {
            's' => Duration::try_seconds(n),
            'm' => Duration::try_minutes(n),
            'h' => Duration::try_hours(n),
            'd' => Duration::try_days(n),
            'w' => Duration::try_weeks(n),
            _ => return Err(bad(&format!("unknown unit {c:?}"))),
        }
        .ok_or_else(|| bad("too large"))?;
        total = total.checked_add(&part).ok_or_else(|| bad("too large"))?;
    }
    if !number.is_empty() {
        return Err(bad("the last number has no unit"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_refuses_bare_numbers() {
        assert_eq!(parse_duration("30d"), Ok(Duration::days(30)));
        assert_eq!(
            parse_duration("1d12h"),
            Ok(Duration::days(1) + Duration::hours(12))
        );
        assert_eq!(parse_duration("2w"), Ok(Duration::weeks(2)));
        assert_eq!(parse_duration("0s"), Ok(Duration::zero()));
        for bad in ["", "30", "d", "3x", "-1d", "1.5d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
