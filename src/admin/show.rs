//! Renderings of admin results for the CLI: plain text, aligned, one fact per
//! line, readable without a manual; and JSON (`--json`) for administrators'
//! scripts, whose field names are a stable interface:
//!
//! - a mailbox (`admin status <mailbox> --json`, each element of `admin mailbox
//!   list --json`): `mailbox`, `name`, `email` (null if none), `language`,
//!   `timezone`, `pin_origin` (`none`, `default`, `temporary`, `user`),
//!   `must_change` (true also for a mailbox with no PIN yet: its owner must set
//!   one before using it), `name_recorded`, `strikes`, `max_failed_attempts`,
//!   `locked`, `locked_until` (RFC 3339, null unless a timed lock),
//!   `new_messages`, `old_messages`;
//! - the portal (`admin status --json`): `portal_number`, `passcode_set`,
//!   `default_pin_set`, `passcode_strikes`, `passcode_locked`,
//!   `passcode_locked_until`, `max_failed_attempts`;
//! - messages (`admin messages list <mailbox> --json`): `mailbox`, `timezone`,
//!   `new_messages`, `old_messages`, `messages`: each `id`, `folder`,
//!   `received` (RFC 3339, UTC), `received_local` (in the mailbox's time zone),
//!   `duration_secs`, `caller_number`, `caller_name`.

use std::fmt::Write;

use chrono::DateTime;
use serde_json::{Value, json};

use super::messages::MessageListing;
use super::repair::RepairReport;
use super::{AccountStatus, MailboxStatus, PortalStatus};
use crate::store::audit::AuditEntry;
use crate::store::lockout::LockStatus;
use crate::store::mailboxes::{MailboxRecord, PinOrigin};
use crate::store::tokens::ApiToken;

/// Every field of one mailbox, `label  value` per line.
pub fn mailbox(status: &MailboxStatus) -> String {
    let r = &status.record;
    let rows = [
        ("mailbox", r.id.to_string()),
        ("name", or_dash(&r.display_name)),
        ("e-mail", or_dash(r.email.as_deref().unwrap_or_default())),
        ("language", r.language.clone()),
        ("time zone", r.timezone.clone()),
        ("PIN", pin_state(r.pin_origin, r.must_change)),
        ("name recorded", yes_no(r.name_recorded).to_owned()),
        (
            "strikes",
            format!("{} of {}", status.lock.strikes, status.max_failed_attempts),
        ),
        ("locked", lock_state(&status.lock)),
        (
            "messages",
            format!("{} new, {} old", status.counts.new, status.counts.old),
        ),
    ];
    table(&rows)
}

/// Whether the owner must choose a PIN before using the mailbox: a PIN they did
/// not choose, or none at all.
fn must_change(record: &MailboxRecord) -> bool {
    record.must_change || record.pin_origin == PinOrigin::None
}

fn rfc3339(at: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    at.map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
}

/// One mailbox as JSON (see the module documentation for the fields).
pub fn mailbox_json(status: &MailboxStatus) -> Value {
    let r = &status.record;
    json!({
        "mailbox": r.id.as_str(),
        "name": r.display_name,
        "email": r.email,
        "language": r.language,
        "timezone": r.timezone,
        "pin_origin": r.pin_origin.as_str(),
        "must_change": must_change(r),
        "name_recorded": r.name_recorded,
        "strikes": status.lock.strikes,
        "max_failed_attempts": status.max_failed_attempts,
        "locked": status.lock.locked,
        "locked_until": rfc3339(status.lock.locked_until),
        "new_messages": status.counts.new,
        "old_messages": status.counts.old,
    })
}

/// Every mailbox as a JSON array.
pub fn mailbox_list_json(listing: &[MailboxStatus]) -> Value {
    Value::Array(listing.iter().map(mailbox_json).collect())
}

/// The portal as JSON.
pub fn portal_json(status: &PortalStatus) -> Value {
    json!({
        "portal_number": status.number.as_str(),
        "passcode_set": status.passcode_set,
        "default_pin_set": status.default_pin_set,
        "passcode_strikes": status.lock.strikes,
        "passcode_locked": status.lock.locked,
        "passcode_locked_until": rfc3339(status.lock.locked_until),
        "max_failed_attempts": status.max_failed_attempts,
    })
}

/// A mailbox's messages as JSON.
pub fn messages_json(listing: &MessageListing) -> Value {
    let tz = listing.timezone();
    let counts = listing.counts();
    let messages: Vec<Value> = listing
        .messages
        .iter()
        .map(|m| {
            json!({
                "id": m.id.as_str(),
                "folder": m.folder.as_str(),
                "received": m.received.to_rfc3339(),
                "received_local": m.received.with_timezone(&tz).to_rfc3339(),
                "duration_secs": m.duration_secs,
                "caller_number": m.caller_number,
                "caller_name": m.caller_name,
            })
        })
        .collect();
    json!({
        "mailbox": listing.record.id.as_str(),
        "timezone": tz.name(),
        "new_messages": counts.new,
        "old_messages": counts.old,
        "messages": messages,
    })
}

/// Pretty JSON with a final newline.
pub fn json(value: &Value) -> String {
    // Serialising a `Value` cannot fail.
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The portal's number, which org-wide secrets are set, and the passcode's lock.
pub fn portal(status: &PortalStatus) -> String {
    let set = |is_set: bool| if is_set { "set" } else { "not set" }.to_owned();
    let rows = [
        ("portal number", status.number.to_string()),
        ("portal passcode", set(status.passcode_set)),
        ("org default PIN", set(status.default_pin_set)),
        (
            "passcode strikes",
            format!("{} of {}", status.lock.strikes, status.max_failed_attempts),
        ),
        ("passcode locked", lock_state(&status.lock)),
    ];
    table(&rows)
}

/// One line per mailbox under a header; "no mailboxes" when there are none.
pub fn mailbox_list(listing: &[MailboxStatus]) -> String {
    if listing.is_empty() {
        return "no mailboxes\n".to_owned();
    }
    let header = [
        "MAILBOX",
        "PIN",
        "CHANGE",
        "LOCKED",
        "NEW",
        "OLD",
        "NAME REC.",
        "LANG",
        "TIME ZONE",
        "NAME",
    ];
    let mut lines = vec![header.map(str::to_owned).to_vec()];
    for status in listing {
        let r = &status.record;
        lines.push(vec![
            r.id.to_string(),
            r.pin_origin.to_string(),
            yes_no(must_change(r)).to_owned(),
            yes_no(status.lock.locked).to_owned(),
            status.counts.new.to_string(),
            status.counts.old.to_string(),
            yes_no(r.name_recorded).to_owned(),
            r.language.clone(),
            r.timezone.clone(),
            r.display_name.clone(),
        ]);
    }
    columns(&lines)
}

/// One line per entry: time (UTC), actor, action, target, detail.
pub fn audit(entries: &[AuditEntry]) -> String {
    if entries.is_empty() {
        return "no audit entries\n".to_owned();
    }
    let lines: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                entry_time(&e.id),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                e.detail.clone(),
            ]
        })
        .collect();
    columns(&lines)
}

/// One line per administrator account.
pub fn accounts(accounts: &[AccountStatus]) -> String {
    if accounts.is_empty() {
        return "no administrator accounts\n".to_owned();
    }
    let mut lines = vec![
        ["NAME", "CREATED", "STRIKES", "LOCKED"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for a in accounts {
        lines.push(vec![
            a.account.name.to_string(),
            when(a.account.created),
            a.lock.strikes.to_string(),
            lock_state(&a.lock),
        ]);
    }
    columns(&lines)
}

/// One line per API token: names and dates, never a token.
pub fn tokens(tokens: &[ApiToken]) -> String {
    if tokens.is_empty() {
        return "no API tokens\n".to_owned();
    }
    let mut lines = vec![["NAME", "CREATED"].map(str::to_owned).to_vec()];
    for t in tokens {
        lines.push(vec![t.name.to_string(), when(t.created)]);
    }
    columns(&lines)
}

fn when(time: Option<DateTime<chrono::Utc>>) -> String {
    time.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".to_owned())
}

/// A mailbox's messages, oldest first, dated in the mailbox's time zone.
pub fn messages(listing: &MessageListing) -> String {
    let id = &listing.record.id;
    if listing.messages.is_empty() {
        return format!("mailbox {id}: no messages\n");
    }
    let tz = listing.timezone();
    let counts = listing.counts();
    let mut out = format!(
        "mailbox {id}: {} new, {} old (times in {tz})\n",
        counts.new, counts.old
    );
    let mut lines = vec![
        ["ID", "FOLDER", "RECEIVED", "DURATION", "CALLER"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for m in &listing.messages {
        lines.push(vec![
            m.id.to_string(),
            m.folder.to_string(),
            m.received
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string(),
            minutes(m.duration_secs),
            caller(&m.caller_name, &m.caller_number),
        ]);
    }
    out.push_str(&columns(&lines));
    out
}

/// What a repair pass did, one count per line.
pub fn repair_report(report: &RepairReport) -> String {
    let changed = if report.changed.is_empty() {
        "-".to_owned()
    } else {
        report
            .changed
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let rows = [
        ("orphaned audio indexed", report.indexed.to_string()),
        (
            "interrupted deletes finished",
            report.tombstones_cleared.to_string(),
        ),
        (
            "entries without audio removed",
            report.dangling_removed.to_string(),
        ),
        ("late notifications sent", report.notified_late.to_string()),
        (
            "deleted mailboxes' recordings removed",
            report.purged.to_string(),
        ),
        ("skipped, still recording", report.skipped_live.to_string()),
        ("skipped, too recent", report.skipped_recent.to_string()),
        (
            "skipped, no such mailbox",
            report.skipped_no_mailbox.to_string(),
        ),
        (
            "skipped, recorded on another Asterisk",
            report.skipped_elsewhere.to_string(),
        ),
        ("failed (see warnings)", report.failed.to_string()),
        ("mailboxes changed", changed),
    ];
    let mut out = table(&rows);
    for line in &report.damaged {
        let _ = writeln!(out, "wrong-type key: {line}");
    }
    out
}

/// `Bob <1002>`, `1002`, `Bob`, or `unknown`.
fn caller(name: &str, number: &str) -> String {
    match (name.trim(), number.trim()) {
        ("", "") => "unknown".to_owned(),
        ("", number) => number.to_owned(),
        (name, "") => name.to_owned(),
        (name, number) => format!("{name} <{number}>"),
    }
}

/// `m:ss`.
fn minutes(secs: u32) -> String {
    format!("{}:{:02}", secs / 60, secs % 60)
}

/// How the PIN stands, in words an administrator can act on.
pub fn pin_state(origin: PinOrigin, must_change: bool) -> String {
    let what = match origin {
        PinOrigin::None => return "none yet (the owner sets one up from their own phone)".into(),
        PinOrigin::Default => "org default PIN",
        PinOrigin::Temporary => "temporary (set by an administrator)",
        PinOrigin::User => "chosen by the owner",
    };
    if must_change {
        format!("{what}, must be changed at the next login")
    } else {
        what.to_owned()
    }
}

fn lock_state(lock: &LockStatus) -> String {
    match (lock.locked, lock.locked_until) {
        (false, _) => "no".into(),
        (true, None) => "yes, until an administrator unlocks it".into(),
        (true, Some(until)) => format!("yes, until {}", until.format("%Y-%m-%d %H:%M:%S UTC")),
    }
}

/// A stream id is `<milliseconds>-<sequence>`: the time the entry was written.
fn entry_time(id: &str) -> String {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| id.to_owned())
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

fn or_dash(value: &str) -> String {
    if value.is_empty() { "-" } else { value }.to_owned()
}

fn table(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (label, value) in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "{label:<width$}  {value}");
    }
    out
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn columns(lines: &[Vec<String>]) -> String {
    let count = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            lines
                .iter()
                .filter_map(|l| l.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (i, cell) in line.iter().enumerate() {
            if i + 1 == line.len() {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ", w = widths[i]);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MailboxId;

    #[test]
    fn a_mailbox_reads_as_a_table() {
        let mut record = MailboxRecord::new(MailboxId::parse("1001").unwrap());
        record.display_name = "Alice".into();
        record.pin_origin = PinOrigin::Default;
        record.must_change = true;
        let status = MailboxStatus {
            record,
            lock: LockStatus {
                strikes: 4,
                locked: true,
                locked_until: None,
            },
            max_failed_attempts: 4,
            counts: crate::store::messages::MessageCounts { new: 2, old: 1 },
        };
        let text = mailbox(&status);
        assert!(text.contains("mailbox        1001\n"), "{text}");
        assert!(text.contains("e-mail         -\n"), "{text}");
        assert!(text.contains("org default PIN, must be changed"), "{text}");
        assert!(text.contains("strikes        4 of 4\n"), "{text}");
        assert!(
            text.contains("yes, until an administrator unlocks it"),
            "{text}"
        );
        assert!(text.contains("messages       2 new, 1 old\n"), "{text}");
        let json = mailbox_json(&status);
        assert_eq!(json["mailbox"], "1001");
        assert_eq!(json["must_change"], true);
        assert_eq!(json["new_messages"], 2);
        assert_eq!(json["old_messages"], 1);
        assert_eq!(json["locked_until"], Value::Null);
    }

    #[test]
    fn columns_align() {
        let lines = vec![
            vec!["A".to_owned(), "BB".to_owned(), "C".to_owned()],
            vec!["long".to_owned(), "x".to_owned(), String::new()],
        ];
        assert_eq!(columns(&lines), "A     BB  C\nlong  x\n");
    }

    #[test]
    fn messages_list_in_the_mailbox_time_zone() {
        use crate::store::messages::{Folder, Message, MessageId};
        let mut record = MailboxRecord::new(MailboxId::parse("1001").unwrap());
        record.timezone = "Europe/Paris".into();
        let message = |id: &str, folder, name: &str, number: &str, secs| Message {
            id: MessageId::parse(id).unwrap(),
            mailbox: record.id.clone(),
            folder,
            caller_number: number.into(),
            caller_name: name.into(),
            received: MessageId::parse(id).unwrap().received().unwrap(),
            duration_secs: secs,
            recorded_on: String::new(),
        };
        let listing = MessageListing {
            messages: vec![
                message("1700000000000-0a1b2c", Folder::Old, "Bob", "1002", 75),
                message("1700000060000-000001", Folder::New, "", "", 3),
            ],
            record: record.clone(),
        };
        let text = messages(&listing);
        assert!(text.starts_with("mailbox 1001: 1 new, 1 old (times in Europe/Paris)\n"));
        assert!(
            text.contains(
                "1700000000000-0a1b2c  old     2023-11-14 23:13:20 CET  1:15      Bob <1002>\n"
            ),
            "{text}"
        );
        assert!(text.contains("0:03      unknown\n"), "{text}");
        let empty = MessageListing {
            record,
            messages: Vec::new(),
        };
        assert_eq!(messages(&empty), "mailbox 1001: no messages\n");
    }

    #[test]
    fn stream_ids_become_times() {
        assert_eq!(entry_time("1700000000000-0"), "2023-11-14 22:13:20 UTC");
        assert_eq!(entry_time("garbage"), "garbage");
    }
}
