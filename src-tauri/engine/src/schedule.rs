//! When a cron trigger fires: next fire times in the schedule's IANA time zone
//! (DST-correct, through croner), missed fires, and the catch-up decision. Pure
//! functions of the time they are given; the scheduler loop that calls them
//! lives with the store, and reads time from an injected [`crate::Clock`].

use crate::plan::{CatchUp, CronTrigger, IssueKind, PlanIssue};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Why a cron trigger cannot be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    BadCron(String),
    #[error("{0}")]
    BadTimezone(String),
}

impl ScheduleError {
    /// The problem as a plan issue under `prefix` (`trigger`).
    pub fn into_issue(self, prefix: &str) -> PlanIssue {
        match self {
            Self::BadCron(m) => PlanIssue::error(format!("{prefix}.cron_expression"), IssueKind::BadCron, m),
            Self::BadTimezone(m) => PlanIssue::error(format!("{prefix}.timezone"), IssueKind::BadTimezone, m),
        }
    }
}

/// Parse a cron expression the way Flowpilot schedules it: 5 fields, or 6 with seconds first.
pub fn parse_cron(expr: &str) -> Result<croner::Cron, ScheduleError> {
    let fields = expr.split_whitespace().count();
    if !(5..=6).contains(&fields) {
        return Err(ScheduleError::BadCron(format!(
            "a cron expression has 5 fields (minute hour day month weekday) or 6 with seconds first; this one has {fields}"
        )));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .year(croner::parser::Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| ScheduleError::BadCron(e.to_string()))
}

/// Parse an IANA time zone name.
pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>().map_err(|_| {
        ScheduleError::BadTimezone(format!(
            "unknown time zone `{name}` (use an IANA name such as Europe/Berlin)"
        ))
    })
}

/// At most this many missed fires are run by `run_all`.
pub const MAX_CATCH_UP_RUNS: usize = 10;
/// Missed fires older than this are counted, not run.
pub const DEFAULT_CATCH_UP_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// A parsed cron trigger in its time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    tz: Tz,
    expression: String,
}

/// The time zone of this machine, or UTC when it cannot be told.
pub fn system_timezone() -> Tz {
    iana_time_zone::get_timezone()
        .ok()
        .and_then(|name| name.parse().ok())
        .unwrap_or(Tz::UTC)
}

impl Schedule {
    /// Parse a trigger; a missing time zone means `default_tz` (the system's).
    pub fn new(trigger: &CronTrigger, default_tz: Tz) -> Result<Self, ScheduleError> {
        let cron = parse_cron(&trigger.cron_expression)?;
        let tz = match &trigger.timezone {
            Some(name) => parse_timezone(name)?,
            None => default_tz,
        };
        Ok(Self {
            cron,
            tz,
            expression: trigger.cron_expression.clone(),
        })
    }

    pub fn timezone(&self) -> Tz {
        self.tz
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first fire strictly after `after`. In a skipped DST hour a fixed-time
    /// job fires once at the first valid time; in a repeated hour, once.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.tz);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The newest fire at or before `at`.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.tz);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The next `n` fires after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut cursor = after;
        while out.len() < n {
            match self.next_after(cursor) {
                Some(t) if t > cursor => {
                    out.push(t);
                    cursor = t;
                }
                _ => break,
            }
        }
        out
    }

    /// Fires in `(after, until]`: the newest `keep` of them, and how many there were
    /// in all (counting stops at `count_limit` so a years-old schedule stays cheap).
    pub fn fires_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        keep: usize,
        count_limit: usize,
    ) -> (Vec<DateTime<Utc>>, usize) {
        let mut kept = std::collections::VecDeque::with_capacity(keep);
        let mut total = 0;
        let mut cursor = after;
        while let Some(t) = self.next_after(cursor) {
            if t > until || t <= cursor || total >= count_limit {
                break;
            }
            total += 1;
            if keep > 0 {
                if kept.len() == keep {
                    kept.pop_front();
                }
                kept.push_back(t);
            }
            cursor = t;
        }
        (kept.into_iter().collect(), total)
    }

    /// Whether the schedule ever fires (`0 0 30 2 *` never does).
    pub fn ever_fires(&self, from: DateTime<Utc>) -> bool {
        self.next_after(from).is_some()
    }

    /// What is valid but probably not meant, as warnings under `prefix` (`trigger`).
    pub fn warnings(&self, prefix: &str) -> Vec<PlanIssue> {
        if self.ever_fires(Utc::now()) {
            Vec::new()
        } else {
            vec![PlanIssue::warning(
                format!("{prefix}.cron_expression"),
                IssueKind::Suspicious,
                format!("`{}` never fires: no date matches it", self.expression),
            )]
        }
    }

    /// The schedule in words, e.g. "At 09:00, Monday through Friday".
    pub fn describe(&self) -> String {
        describe(&self.expression).unwrap_or_else(|| self.cron.describe())
    }
}

/// A plain-English description of common cron shapes; `None` for the rest.
fn describe(expr: &str) -> Option<String> {
    let f: Vec<&str> = expr.split_whitespace().collect();
    let (sec, rest) = if f.len() == 6 {
        (Some(f[0]), &f[1..])
    } else {
        (None, &f[..])
    };
    let [min, hour, dom, mon, dow] = rest else { return None };
    let days = match (*dom, *mon, *dow) {
        ("*", "*", "*") => "every day".to_string(),
        ("*", "*", "1-5") | ("*", "*", "MON-FRI") => "on weekdays".to_string(),
        ("*", "*", "0,6") | ("*", "*", "6,0") | ("*", "*", "SAT,SUN") => "on weekends".to_string(),
        ("*", "*", d) if d.len() == 1 => format!("on {}", weekday(d)?),
        (d, "*", "*") if d.parse::<u8>().is_ok() => format!("on day {d} of every month"),
        _ => return None,
    };
    let every = |field: &str| field.strip_prefix("*/").and_then(|n| n.parse::<u32>().ok());
    match (sec, *min, *hour) {
        (Some(s), "*", "*") if every(s).is_some() && days == "every day" => {
            Some(format!("Every {} seconds", every(s)?))
        }
        (Some("*"), "*", "*") if days == "every day" => Some("Every second".into()),
        (None | Some("0"), m, "*") if every(m).is_some() && days == "every day" => {
            Some(format!("Every {} minutes", every(m)?))
        }
        (None | Some("0"), "*", "*") if days == "every day" => Some("Every minute".into()),
        (None | Some("0"), m, "*") if m.parse::<u8>().is_ok() && days == "every day" => {
            Some(format!("Every hour at minute {m}"))
        }
        (None | Some("0"), m, h) if m.parse::<u8>().is_ok() && h.parse::<u8>().is_ok() => Some(format!(
            "At {:02}:{:02}, {days}",
            h.parse::<u8>().ok()?,
            m.parse::<u8>().ok()?
        )),
        _ => None,
    }
}

fn weekday(d: &str) -> Option<&'static str> {
    Some(match d {
        "0" | "7" => "Sundays",
        "1" => "Mondays",
        "2" => "Tuesdays",
        "3" => "Wednesdays",
        "4" => "Thursdays",
        "5" => "Fridays",
        "6" => "Saturdays",
        _ => return None,
    })
}

/// What to do about fires that were missed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpDecision {
    /// Fires to run now, oldest first.
    pub run: Vec<DateTime<Utc>>,
    /// Fires that will not run (skipped by policy, outside the window, over the cap).
    pub missed: usize,
}

/// Decide what to run for the fires in `(last_fired_for, now]` that did not run
/// on time. `due` is the fire that is exactly due now and is not a miss (the
/// scheduler runs it normally), so it is left out here.
pub fn catch_up(
    schedule: &Schedule,
    policy: CatchUp,
    last_fired_for: DateTime<Utc>,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> CatchUpDecision {
    // The window includes its first instant.
    let window_start = (now - window - chrono::Duration::nanoseconds(1)).max(last_fired_for);
    // Everything missed, counted (bounded), then the recent ones that may still run.
    let (_, all) = schedule.fires_between(last_fired_for, now, 0, 100_000);
    let keep = match policy {
        CatchUp::Skip => 0,
        CatchUp::RunOnce => 1,
        CatchUp::RunAll => MAX_CATCH_UP_RUNS,
    };
    let (run, _) = schedule.fires_between(window_start, now, keep, 100_000);
    CatchUpDecision {
        missed: all - run.len(),
        run,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Overlap;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn schedule(expr: &str, tz: &str) -> Schedule {
        let trigger = CronTrigger {
            cron_expression: expr.into(),
            timezone: Some(tz.into()),
            catch_up: CatchUp::RunOnce,
            overlap: Overlap::Skip,
        };
        Schedule::new(&trigger, Tz::UTC).unwrap()
    }

    #[test]
    fn spring_forward_gap_fires_once_at_the_first_valid_time() {
        // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
        let s = schedule("30 2 * * *", "America/New_York");
        let fires = s.upcoming(at("2026-03-07T12:00:00Z"), 3);
        // The first valid time after the gap: 03:00 EDT.
        assert_eq!(fires[0], at("2026-03-08T07:00:00Z"));
        // Exactly one fire on the 8th, then 02:30 EDT on the 9th.
        assert_eq!(fires[1], at("2026-03-09T06:30:00Z"));
        let paris = schedule("30 2 * * *", "Europe/Paris");
        let fires = paris.upcoming(at("2026-03-28T12:00:00Z"), 2);
        // Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST.
        assert_eq!(fires.len(), 2);
        assert_eq!(
            fires[0].date_naive(),
            chrono::NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
        assert_eq!(fires[1], at("2026-03-30T00:30:00Z"));
    }

    #[test]
    fn fall_back_overlap_fires_once() {
        // New York, 2026-11-01: 01:00-02:00 happens twice.
        let s = schedule("30 1 * * *", "America/New_York");
        let fires = s.upcoming(at("2026-10-31T12:00:00Z"), 2);
        assert_eq!(fires[0], at("2026-11-01T05:30:00Z"));
        assert_eq!(fires[1], at("2026-11-02T06:30:00Z"));
        let paris = schedule("30 2 * * *", "Europe/Paris");
        let fires = paris.upcoming(at("2026-10-24T12:00:00Z"), 2);
        // Paris, 2026-10-25: 02:00-03:00 happens twice; one fire.
        assert_eq!(fires[0], at("2026-10-25T00:30:00Z"));
        assert_eq!(fires[1], at("2026-10-26T01:30:00Z"));
    }

    #[test]
    fn six_fields_fire_on_seconds() {
        let s = schedule("*/5 * * * * *", "UTC");
        assert_eq!(
            s.upcoming(at("2026-01-01T00:00:01Z"), 3),
            vec![
                at("2026-01-01T00:00:05Z"),
                at("2026-01-01T00:00:10Z"),
                at("2026-01-01T00:00:15Z")
            ]
        );
    }

    #[test]
    fn catch_up_policies() {
        let s = schedule("0 * * * *", "UTC");
        let last = at("2026-01-01T00:00:00Z");
        let now = at("2026-01-01T05:30:00Z"); // 01..05 missed: 5 fires
        let window = chrono::Duration::hours(24);
        let skip = catch_up(&s, CatchUp::Skip, last, now, window);
        assert_eq!((skip.run.len(), skip.missed), (0, 5));
        let once = catch_up(&s, CatchUp::RunOnce, last, now, window);
        assert_eq!(once.run, vec![at("2026-01-01T05:00:00Z")]);
        assert_eq!(once.missed, 4);
        let all = catch_up(&s, CatchUp::RunAll, last, now, window);
        assert_eq!(all.run.len(), 5);
        assert_eq!(all.missed, 0);
    }

    #[test]
    fn catch_up_is_capped_and_bounded_by_the_window() {
        let s = schedule("0 * * * *", "UTC");
        let last = at("2026-01-01T00:00:00Z");
        let now = at("2026-01-03T00:30:00Z"); // 48 missed
        let all = catch_up(&s, CatchUp::RunAll, last, now, chrono::Duration::hours(24));
        assert_eq!(all.run.len(), MAX_CATCH_UP_RUNS);
        assert_eq!(*all.run.last().unwrap(), at("2026-01-03T00:00:00Z"));
        assert_eq!(all.missed, 48 - MAX_CATCH_UP_RUNS);
        let narrow = catch_up(&s, CatchUp::RunAll, last, now, chrono::Duration::minutes(90));
        assert_eq!(narrow.run, vec![at("2026-01-02T23:00:00Z"), at("2026-01-03T00:00:00Z")]);
        assert_eq!(narrow.missed, 46);
    }

    #[test]
    fn a_schedule_that_never_fires_is_a_warning() {
        assert!(schedule("0 0 30 2 *", "UTC").warnings("trigger").len() == 1);
        assert!(schedule("0 9 * * *", "UTC").warnings("trigger").is_empty());
        assert!(matches!(parse_cron("0 9 * *"), Err(ScheduleError::BadCron(_))));
        assert!(parse_cron("*/5 * * * * *").is_ok());
        assert!(parse_cron("0 0 9 * * * 2027").is_err());
        assert!(matches!(
            parse_timezone("Mars/Base"),
            Err(ScheduleError::BadTimezone(_))
        ));
    }

    #[test]
    fn descriptions_in_words() {
        let d = |e: &str| schedule(e, "UTC").describe();
        assert_eq!(d("0 9 * * *"), "At 09:00, every day");
        assert_eq!(d("0 9 * * 1-5"), "At 09:00, on weekdays");
        assert_eq!(d("*/15 * * * *"), "Every 15 minutes");
        assert_eq!(d("*/5 * * * * *"), "Every 5 seconds");
        assert_eq!(d("0 * * * *"), "Every hour at minute 0");
        assert!(!d("0 9 1-7 * 1").is_empty());
    }
}
