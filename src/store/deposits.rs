//! Deposits in progress: what repair needs to finish a message whose deposit
//! did not (caller, time), and the proof that its notification is still owed.
//!
//! A deposit writes its record *before* recording and removes it only once the
//! message is indexed and its e-mail job is queued (or it discarded the audio).
//! While the call runs it renews a lease on the record. So, for a recording
//! `msg-<id>` of mailbox 1001:
//!
//! | record | lease | meaning |
//! |---|---|---|
//! | none | - | nothing owed (or a deposit older than these records) |
//! | present | running | a call is still on it: leave it alone |
//! | present | lapsed | the instance died (or gave up on Redis): repair indexes the audio with this caller and time if needed, lights the lamp and queues the e-mail |
//!
//! Layout: `vp:{1001}:deposits`, a hash from message id to
//! `<lease until ms>\t<received ms>\t<caller number>\t<caller name>` (caller ID
//! is stored cleaned, without tabs or control characters).

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;

use super::keys::mailbox_key;
use super::messages::{Message, MessageId};
use super::{Store, StoreError};
use crate::domain::MailboxId;

/// A deposit's record, as repair reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositRecord {
    pub lease_until: DateTime<Utc>,
    pub received: DateTime<Utc>,
    pub caller_number: String,
    pub caller_name: String,
}

fn key(m: &MailboxId) -> String {
    mailbox_key(m.as_str(), "deposits")
}

/// No tab or control character in a field (they separate fields).
fn field(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn encode(message: &Message, lease_until: DateTime<Utc>) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        lease_until.timestamp_millis(),
        message.received.timestamp_millis(),
        field(&message.caller_number),
        field(&message.caller_name)
    )
}

fn decode(raw: &str) -> Option<DepositRecord> {
    let mut parts = raw.splitn(4, '\t');
    let lease = parts.next()?.parse::<i64>().ok()?;
    let received = parts.next()?.parse::<i64>().ok()?;
    Some(DepositRecord {
        lease_until: DateTime::from_timestamp_millis(lease)?,
        received: DateTime::from_timestamp_millis(received)?,
        caller_number: parts.next().unwrap_or_default().to_owned(),
        caller_name: parts.next().unwrap_or_default().to_owned(),
    })
}

fn until(lease: Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
}

impl Store {
    /// Records a deposit about to record `message` (its id, caller and time),
    /// leased for `lease`.
    pub async fn begin_deposit(
        &self,
        message: &Message,
        lease: Duration,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.hset::<_, _, _, i64>(
            key(&message.mailbox),
            message.id.as_str(),
            encode(message, until(lease)),
        )
        .await
        .map(drop)
        .map_err(|e| self.error(e))
    }

    /// Extends the lease of a deposit still in progress; a record already
    /// removed (the message was saved) is not brought back.
    pub async fn renew_deposit(
        &self,
        message: &Message,
        lease: Duration,
    ) -> Result<(), StoreError> {
        const RENEW: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 1
"#;
        let mut conn = self.conn.clone();
        redis::Script::new(RENEW)
            .key(key(&message.mailbox))
            .arg(message.id.as_str())
            .arg(encode(message, until(lease)))
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// The deposit is over: its message is indexed and notified, or discarded.
    pub async fn end_deposit(&self, m: &MailboxId, id: &MessageId) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.hdel::<_, _, i64>(key(m), id.as_str())
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Ends the lease of a deposit at once: its instance is gone (a high
    /// availability takeover, see `ha::takeover`), so the next repair pass may
    /// finish it without waiting for the lease to lapse.
    pub async fn lapse_deposit(&self, m: &MailboxId, id: &MessageId) -> Result<(), StoreError> {
        const LAPSE: &str = r#"
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value then
  local rest = string.match(value, '^[^\t]*(\t.*)$')
  if rest then
    redis.call('HSET', KEYS[1], ARGV[1], '0' .. rest)
  end
end
return 1
"#;
        let mut conn = self.conn.clone();
        redis::Script::new(LAPSE)
            .key(key(m))
            .arg(id.as_str())
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }

    /// Every deposit record of a mailbox. A record that cannot be read is
    /// reported with `None` (repair removes it).
    pub async fn deposits(
        &self,
        m: &MailboxId,
    ) -> Result<Vec<(String, Option<DepositRecord>)>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: HashMap<String, String> = conn.hgetall(key(m)).await.map_err(|e| self.error(e))?;
        let mut records: Vec<(String, Option<DepositRecord>)> = raw
            .into_iter()
            .map(|(id, value)| {
                let record = decode(&value);
                (id, record)
            })
            .collect();
        records.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(records)
    }

    /// Removes a record by its raw field name (repair of unreadable records).
    pub async fn drop_deposit_record(&self, m: &MailboxId, field: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.hdel::<_, _, i64>(key(m), field)
            .await
            .map(drop)
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::messages::Folder;

    #[test]
    fn records_round_trip_without_control_characters() {
        let received = DateTime::from_timestamp_millis(1_700_000_000_000).unwrap();
        let message = Message {
            id: MessageId::with_suffix(received, 1),
            mailbox: MailboxId::parse("1001").unwrap(),
            folder: Folder::New,
            caller_number: "06\t12".into(),
            caller_name: "Bob\nDupont".into(),
            received,
            duration_secs: 0,
            recorded_on: String::new(),
        };
        let lease = DateTime::from_timestamp_millis(1_700_000_030_000).unwrap();
        let record = decode(&encode(&message, lease)).unwrap();
        assert_eq!(record.received, received);
        assert_eq!(record.lease_until, lease);
        assert_eq!(record.caller_number, "06 12");
        assert_eq!(record.caller_name, "Bob Dupont");
        assert_eq!(decode("garbage"), None);
    }
}
