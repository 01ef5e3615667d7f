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
//! | `vp:mailboxes` | set | every provisioned mailbox number |
//! | `vp:purge` | sorted set | numbers of deleted mailboxes whose recordings are still in Asterisk, scored by deletion time (ms) |
//! | `vp:mail:*` | | the e-mail notification queue (see `mailq`) |
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

/// Deleted mailboxes whose recordings are not known to be gone from Asterisk:
/// no mailbox of the same number may be created until they are.
pub fn purge_index() -> String {
    format!("{PREFIX}:purge")
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

#[cfg(test)]
mod tests {
    use super::*;

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
