//! Telling people a message arrived: the phones' message-waiting lamps (ARI
//! `/mailboxes`, see `mwi`) and e-mail. Both are best effort: a lamp or an e-mail
//! that cannot be sent never loses a message, so failures are logged, not returned
//! to the flows.

pub mod email;
pub mod mwi;
pub mod signin;
