//! Asterisk's own app_voicemail, the system users migrate from: a third Asterisk
//! (the same build) in a configuration of its own, where callers leave messages
//! with `VoiceMail()` exactly as on an installation of today. Its `voicemail.conf`
//! and spool are then what the import reads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ari::{Ari, EventLog, kind};
use super::asterisk::Asterisk;

/// The test's ARI app on this Asterisk.
const APP: &str = "old-voicemail";

pub struct OldVoicemail {
    pub asterisk: Asterisk,
    events: EventLog,
}

impl OldVoicemail {
    /// Starts app_voicemail with `voicemail_conf` as its voicemail.conf.
    pub async fn start(
        prefix: &Path,
        state: &Path,
        data: &Path,
        http: u16,
        ari_password: &str,
        voicemail_conf: &str,
    ) -> OldVoicemail {
        for dir in ["etc", "spool/voicemail", "log", "lib", "run"] {
            std::fs::create_dir_all(state.join(dir)).expect("app_voicemail's instance folder");
        }
        let (state_dir, prefix_dir, data_dir) = (state.display(), prefix.display(), data.display());
        let files = [
            (
                "asterisk.conf",
                format!(
                    "[directories]\nastetcdir => {state_dir}/etc\n\
                     astmoddir => {prefix_dir}/lib/asterisk/modules\nastvarlibdir => {state_dir}/lib\n\
                     astdbdir => {state_dir}/lib\nastkeydir => {state_dir}/lib\n\
                     astdatadir => {data_dir}\nastagidir => {data_dir}/agi-bin\n\
                     astspooldir => {state_dir}/spool\nastrundir => {state_dir}/run\n\
                     astlogdir => {state_dir}/log\nastsbindir => {prefix_dir}/sbin\n\
                     [options]\nverbose = 3\nhideconnect = yes\n"
                ),
            ),
            // app_voicemail is the voicemail provider here, so voiceportal's
            // res_mwi_external must stay out; no SIP either.
            (
                "modules.conf",
                "[modules]\nautoload = yes\nnoload = res_mwi_external.so\n\
                 noload = res_stasis_mailbox.so\nnoload = res_ari_mailboxes.so\n\
                 noload = chan_pjsip.so\nnoload = res_pjsip.so\n"
                    .into(),
            ),
            (
                "logger.conf",
                "[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n".into(),
            ),
            (
                "http.conf",
                format!("[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = {http}\n"),
            ),
            (
                "ari.conf",
                format!(
                    "[general]\nenabled = yes\n[voiceportal]\ntype = user\n\
                     password = {ari_password}\npassword_format = plain\n"
                ),
            ),
            (
                "extensions.conf",
                "[leave-message]\n; VoiceMail() as a PBX of today runs it when nobody answers.\n\
                 exten => _X.,1,VoiceMail(${EXTEN}@default,u)\n same => n,Hangup()\n"
                    .into(),
            ),
            ("voicemail.conf", voicemail_conf.into()),
        ];
        for (name, content) in files {
            std::fs::write(state.join("etc").join(name), content).expect("app_voicemail config");
        }
        let mut asterisk = Asterisk::new(
            prefix,
            state,
            format!("http://127.0.0.1:{http}"),
            ari_password,
        );
        asterisk.start().await;
        let events = asterisk.ari().events(APP, false).await;
        OldVoicemail { asterisk, events }
    }

    fn ari(&self) -> Ari {
        self.asterisk.ari()
    }

    /// A caller (`caller_id`, e.g. `"Bob" <1002>`) reaches `mailbox`'s voicemail,
    /// waits for the beep, says `speech` and hangs up, as most callers do; returns
    /// once app_voicemail has let the call go.
    pub async fn leave_message(&self, mailbox: &str, caller_id: &str, speech: &str) {
        let id = format!("caller-{}", rand::random::<u32>());
        let start = self.events.len();
        let recorded = self.asterisk.log().matches("Recording the message").count();
        let caller_id: String = caller_id
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        self.ari()
            .post(&format!(
                "/channels?endpoint=Local/{mailbox}@leave-message&app={APP}&channelId={id}\
                 &callerId={caller_id}&timeout=30&formats=ulaw"
            ))
            .await
            .expect("call app_voicemail");
        self.events
            .wait_for(start, Duration::from_secs(15), |e| {
                kind(e) == "StasisStart" && e["channel"]["id"] == id.as_str()
            })
            .await
            .expect("app_voicemail answered");
        // The unavailable greeting ("... is unavailable") and the beep come first;
        // app_voicemail logs when it starts recording.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.asterisk.log().matches("Recording the message").count() <= recorded {
            assert!(
                tokio::time::Instant::now() < deadline,
                "app_voicemail never started recording"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let playback = format!("speech-{}", rand::random::<u32>());
        self.ari()
            .post(&format!("/channels/{id}/play/{playback}?media={speech}"))
            .await
            .expect("speak into app_voicemail");
        self.events
            .wait_for(start, Duration::from_secs(60), |e| {
                kind(e) == "PlaybackFinished" && e["playback"]["id"] == playback.as_str()
            })
            .await
            .expect("the speech finished");
        let _ = self.ari().delete(&format!("/channels/{id}")).await;
        self.events
            .wait_for(start, Duration::from_secs(15), |e| {
                kind(e) == "ChannelDestroyed" && e["channel"]["id"] == id.as_str()
            })
            .await
            .expect("the call ended");
    }

    /// app_voicemail's spool (`<context>/<mailbox>/INBOX/msg0000.txt`, ...).
    pub fn spool(&self) -> PathBuf {
        self.asterisk.state.join("spool/voicemail")
    }

    pub fn voicemail_conf(&self) -> PathBuf {
        self.asterisk.state.join("etc/voicemail.conf")
    }
}
