//! Message-waiting indication through ARI `/mailboxes` (being written).
