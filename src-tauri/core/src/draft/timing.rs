//! A request that says *when* ("every morning", "daily at 9", "when an email
//! arrives") while the draft has no trigger: the plan would run only by hand,
//! which the person would not notice until nothing happened. The draft says so
//! in a note, with what to set in the editor.

use serde_json::Value;

/// Words that ask for a clock: the note suggests a schedule.
const CLOCK: &[&str] = &[
    "every morning",
    "every evening",
    "every night",
    "every day",
    "every hour",
    "every week",
    "every month",
    "every weekday",
    "every monday",
    "every tuesday",
    "every wednesday",
    "every thursday",
    "every friday",
    "every saturday",
    "every sunday",
    "each morning",
    "each day",
    "daily",
    "hourly",
    "weekly",
    "monthly",
    "nightly",
];

/// Words that ask for an event: the note suggests an event trigger.
const EVENT: &[(&str, &str)] = &[
    ("new email", "When an email arrives"),
    ("new mail", "When an email arrives"),
    ("email arrives", "When an email arrives"),
    ("when an email", "When an email arrives"),
    ("when a webhook", "When a URL is called"),
    ("when the webhook", "When a URL is called"),
    ("webhook is called", "When a URL is called"),
    ("new feed item", "When a feed has a new item"),
    ("new rss item", "When a feed has a new item"),
    ("new item in the feed", "When a feed has a new item"),
    ("new post in the feed", "When a feed has a new item"),
    ("when my bot", "When the bot gets a message"),
    ("message to my bot", "When the bot gets a message"),
    ("new telegram message", "When the bot gets a message"),
];

/// The note to add when `prompt` asks for a time or an event and `plan` has no
/// trigger (none, or `manual`); None otherwise.
pub(super) fn missing_trigger_note(prompt: &str, plan: &Value) -> Option<String> {
    let kind = plan
        .get("trigger")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("manual");
    if kind != "manual" {
        return None;
    }
    let asked = prompt.to_lowercase();
    if let Some(words) = CLOCK
        .iter()
        .copied()
        .find(|w| contains_words(&asked, w))
        .or_else(|| every_n(&asked))
    {
        return Some(format!(
            "You asked for \u{201c}{words}\u{201d}, but this draft has no schedule: it runs only by hand. \
             Set \u{201c}When it runs\u{201d} to \u{201c}On a schedule\u{201d} in the editor."
        ));
    }
    EVENT
        .iter()
        .find(|(w, _)| contains_words(&asked, w))
        .map(|(words, choice)| {
            format!(
                "You asked for \u{201c}{words}\u{201d}, but this draft has no trigger: it runs only by hand. \
             Set \u{201c}When it runs\u{201d} to \u{201c}{choice}\u{201d} in the editor."
            )
        })
}

/// `words` in `text` on word boundaries ("daily" not in "dailyish").
fn contains_words(text: &str, words: &str) -> bool {
    text.match_indices(words).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + words.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// "every 5 minutes", "every 2 hours": the matched words.
fn every_n(text: &str) -> Option<&'static str> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(3).find_map(|w| {
        let unit = w[2].trim_end_matches('s');
        (w[0] == "every" && w[1].chars().all(|c| c.is_ascii_digit()) && matches!(unit, "minute" | "hour" | "day"))
            .then_some(match unit {
                "minute" => "every few minutes",
                "hour" => "every few hours",
                _ => "every few days",
            })
    })
}

#[cfg(test)]
mod tests {
    use super::missing_trigger_note;
    use serde_json::json;

    #[test]
    fn a_time_without_a_trigger_gets_a_note_naming_the_words() {
        let plan = json!({"name": "x", "steps": []});
        let note = missing_trigger_note("Every morning, fetch the weather and post it", &plan).unwrap_or_default();
        assert!(note.contains("\u{201c}every morning\u{201d}"), "{note}");
        assert!(note.contains("On a schedule"), "{note}");
        let note = missing_trigger_note("check the site every 5 minutes", &plan).unwrap_or_default();
        assert!(note.contains("every few minutes"), "{note}");
        let manual = json!({"name": "x", "trigger": {"type": "manual"}, "steps": []});
        assert!(missing_trigger_note("post a digest daily", &manual).is_some());
    }

    #[test]
    fn an_event_without_a_trigger_names_the_trigger_to_choose() {
        let plan = json!({"name": "x", "steps": []});
        let note =
            missing_trigger_note("When a new email with invoice comes in, summarise it", &plan).unwrap_or_default();
        assert!(note.contains("When an email arrives"), "{note}");
    }

    #[test]
    fn no_note_with_a_trigger_or_without_timing_words() {
        let cron = json!({"name": "x", "trigger": {"type": "cron", "cron_expression": "0 8 * * *"}, "steps": []});
        assert_eq!(missing_trigger_note("every morning, fetch the weather", &cron), None);
        let plan = json!({"name": "x", "steps": []});
        assert_eq!(missing_trigger_note("fetch the weather and post it", &plan), None);
        // Words inside other words do not count.
        assert_eq!(missing_trigger_note("summarise the dailyish notes", &plan), None);
        // A webhook as where results go is not a trigger.
        assert_eq!(
            missing_trigger_note("fetch the releases and post them to a webhook", &plan),
            None
        );
    }
}
