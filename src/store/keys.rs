//! The Redis key layout, in one place.
//!
//! | key | type | what |
//! |---|---|---|
//! | `vp:{<mailbox>}:box` | hash | the mailbox record (name, language, time zone, PIN hash, PIN origin, must_change, ...) |
//! | `vp:{<mailbox>}:lock` | hash | strikes, locked flag, attempts in flight |
//! | `vp:{<mailbox>}:pins` | list | hashes of the last PINs, newest first (PIN history) |
//! | `vp:{<mailbox>}:msgs` | sorted set | ids of the indexed messages (both folders), scored by received time (ms) |
//! | `vp:{<mailbox>}:msg:<id>` | hash | one message's metadata: folder, caller, received, duration (see `messages`) |
//! | `vp:{<mailbox>}:tomb` | sorted set | ids of messages being deleted (un-indexed, audio not yet deleted), scored by deletion time (ms) |
//! | `vp:{<mailbox>}:imported` | hash | app_voicemail messages already imported: ledger key -> message id (see `imports`), so a second import adds none twice |
//! | `vp:{portal}:settings` | hash | org-wide settings: the org default PIN's hash, the portal passcode's hash |
//! | `vp:{portal}:lock` | hash | strikes and lock of the portal passcode (see `lockout`) |
//! | `vp:{<mailbox>}:deposits` | hash | deposits in progress: caller, time, lease (see `deposits`) |
//! | `vp:{<mailbox>}:purged` | string | the purge mark of a deleted mailbox (deletion time, ms): its recordings may still be in Asterisk, so no mailbox of that number may be created |
//! | `vp:mailboxes` | set | every provisioned mailbox number (may list a number whose record is missing: skipped) |
//! | `vp:purge` | sorted set | numbers of deleted mailboxes whose recordings may still be in Asterisk, scored by deletion time (ms), for repair |
//! | `vp:{mail}:*` | | the e-mail notification queue (see `mailq`) |
//! | `vp:{ha:<app>}:owner` | string, expiring | the instance that owns ARI application `<app>` under `[ha]` (see `lease`) |
//! | `vp:audit` | stream | admin actions (who, when, what; never a PIN) |
//! | `vp:lamps` | stream | mailboxes whose lamp changed, for the services of the other Asterisk servers (see `lamps`) |
//! | `vp:{admins}:index` | set | every web administrator account name |
//! | `vp:{admins}:account:<name>` | hash | one administrator: password hash, generation (see `accounts`) |
//! | `vp:{admins}:lock:<name>` | hash | failed sign-ins and lock of one administrator (see `lockout`) |
//! | `vp:{tokens}:index` | hash | API token name -> digest |
//! | `vp:{tokens}:<digest>` | hash | one API token: name, creation time (see `tokens`) |
//! | `vp:session:<digest>` | hash, expiring | one web sign-in: who, since when (see `sessions`) |
//! | `vp:{<mailbox>}:signin` | hash, expiring | the pending one-time sign-in code: hash, request id, tries left |
//! | `vp:{<mailbox>}:rate:<what>` | counter, expiring | requests of one kind for one mailbox in the current window (see `throttle`) |
//! | `vp:{addr:<ip>}:rate:<what>` | counter, expiring | the same per client address |
//!
//! The braces are a Redis Cluster hash tag: all keys of a mailbox land in one slot,
//! so a Lua script may touch several of them atomically.
//!
//! # One hash slot per atomic step
//!
//! Every script and every pipeline keeps to one slot: the keys of one mailbox,
//! of the portal (`{portal}`), of the administrators (`{admins}`), of the API
//! tokens (`{tokens}`), of the mail queue (`{mail}`), or a single key. The
//! connection refuses anything else in every mode (`connection::check_one_slot`),
//! so the tests on one server find a cross-slot step before a Cluster would.
//!
//! The global lists `vp:mailboxes` and `vp:purge` have no tag (each is its own
//! slot), so they cannot change in the same step as a mailbox. What keeps them
//! right instead:
//! - the *mark* that matters is in the mailbox's slot: creating a mailbox checks
//!   its purge mark `vp:{<mailbox>}:purged` in the same script that writes the
//!   record, and deleting one sets the mark in the script that deletes the keys;
//! - the lists are written so that a crash between the steps leaves only what
//!   readers skip or repair handles: a number is added to `vp:mailboxes` before
//!   its record is written (`mailbox_ids` leaves out a number without a record),
//!   and removed after the record is deleted; a number is added to `vp:purge`
//!   before the delete (and again after), and removed after its mark;
//! - `vp:purge` entries written before the marks existed still block creation
//!   (checked before the script) until repair has removed their recordings.
//!
//! Nothing lists keys by pattern (no `SCAN`, no `KEYS`): every key is reached
//! from a list above, so nothing needs to visit every Cluster master.

/// Prefix shared by every key, so voiceportal can share a Redis database.
pub const PREFIX: &str = "vp";

/// One key of a mailbox, e.g. `mailbox_key("1001", "box")` = `vp:{1001}:box`.
pub fn mailbox_key(mailbox: &str, suffix: &str) -> String {
    format!("{PREFIX}:{{{mailbox}}}:{suffix}")
}

/// The index of a mailbox's messages, `vp:{1001}:msgs`.
pub fn messages_index(mailbox: &str) -> String {
    mailbox_key(mailbox, "msgs")
}

/// One message's metadata, `vp:{1001}:msg:<id>`.
pub fn message_key(mailbox: &str, id: &str) -> String {
    mailbox_key(mailbox, &format!("msg:{id}"))
}

/// The tombstones of a mailbox, `vp:{1001}:tomb`: messages whose deletion has
/// begun. Repair never re-indexes their audio, and deletes it if it is still there.
pub fn tombstones(mailbox: &str) -> String {
    mailbox_key(mailbox, "tomb")
}

/// The import ledger of a mailbox, `vp:{1001}:imported`: one member per
/// app_voicemail message imported into it.
pub fn imports_ledger(mailbox: &str) -> String {
    mailbox_key(mailbox, "imported")
}

/// The set of every provisioned mailbox number.
pub fn mailbox_index() -> String {
    format!("{PREFIX}:mailboxes")
}

/// Deleted mailboxes whose recordings are not known to be gone from Asterisk,
/// listed for repair (the mark that blocks a new mailbox is [`purge_mark`]).
pub fn purge_index() -> String {
    format!("{PREFIX}:purge")
}

/// The purge mark of a deleted mailbox, `vp:{1001}:purged`: in the mailbox's
/// slot, so the scripts that create and delete a mailbox can read and set it.
pub fn purge_mark(mailbox: &str) -> String {
    mailbox_key(mailbox, "purged")
}

/// The hash tag of the portal's own keys. A mailbox number is digits only, so it
/// can never collide with this tag.
pub const PORTAL_TAG: &str = "portal";

/// The org-wide settings hash, `vp:{portal}:settings`. It shares its hash tag with
/// the portal passcode's lock, so one script can change the passcode and unlock it.
pub fn settings_hash() -> String {
    mailbox_key(PORTAL_TAG, "settings")
}

/// The hash tag shared by every administrator account key: an account is created
/// and indexed in one script.
const ADMINS_TAG: &str = "admins";

pub fn admin_index() -> String {
    format!("{PREFIX}:{{{ADMINS_TAG}}}:index")
}

pub fn admin_account(name: &crate::domain::AdminName) -> String {
    format!("{PREFIX}:{{{ADMINS_TAG}}}:account:{name}")
}

pub fn admin_lock(name: &crate::domain::AdminName) -> String {
    format!("{PREFIX}:{{{ADMINS_TAG}}}:lock:{name}")
}

/// API tokens share one hash tag: a token and its index entry change together.
const TOKENS_TAG: &str = "tokens";

pub fn token_index() -> String {
    format!("{PREFIX}:{{{TOKENS_TAG}}}:index")
}

pub fn token_key(digest: &str) -> String {
    format!("{PREFIX}:{{{TOKENS_TAG}}}:{digest}")
}

/// One web session, by the digest of its id (never the id itself).
pub fn session_key(digest: &str) -> String {
    format!("{PREFIX}:session:{digest}")
}

/// A rate counter of one client address, `vp:{addr:127.0.0.1}:rate:signin`.
pub fn address_rate(address: &std::net::IpAddr, what: &str) -> String {
    format!("{PREFIX}:{{addr:{address}}}:rate:{what}")
}

/// The audit stream.
pub fn audit_stream() -> String {
    format!("{PREFIX}:audit")
}

/// The stream of lamp changes every service follows.
pub fn lamp_stream() -> String {
    format!("{PREFIX}:lamps")
}

/// The Redis Cluster hash slot of a key (CRC16/XMODEM of its hash tag, or of
/// the whole key without one, modulo 16384), as the servers compute it.
pub fn hash_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            // An empty tag `{}` does not count: the whole key is hashed.
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(key);
    crc16_xmodem(tagged) % 16384
}

fn crc16_xmodem(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_slots_are_the_servers_ones() {
        // Values from `CLUSTER KEYSLOT` on redis-server 7.
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"vp:mailboxes"), 14071);
        assert_eq!(hash_slot(b"vp:{1001}:box"), 15391);
        // The CRC16/XMODEM check value.
        assert_eq!(crc16_xmodem(b"123456789"), 0x31C3);
        // Only the first tag counts; an empty one hashes the whole key.
        assert_eq!(hash_slot(b"vp:{1001}:{x}"), hash_slot(b"1001"));
        assert_eq!(hash_slot(b"vp:{}:a"), crc16_xmodem(b"vp:{}:a") % 16384);
    }

    #[test]
    fn keys_of_one_mailbox_share_a_hash_tag() {
        assert_eq!(mailbox_key("1001", "box"), "vp:{1001}:box");
        assert_eq!(mailbox_key("1001", "msg:7"), "vp:{1001}:msg:7");
        assert_eq!(messages_index("1001"), "vp:{1001}:msgs");
        assert_eq!(message_key("1001", "7-abcdef"), "vp:{1001}:msg:7-abcdef");
        assert_eq!(tombstones("1001"), "vp:{1001}:tomb");
        assert_eq!(imports_ledger("1001"), "vp:{1001}:imported");
    }

    #[test]
    fn settings_share_the_portal_hash_tag() {
        assert_eq!(settings_hash(), "vp:{portal}:settings");
    }
}
