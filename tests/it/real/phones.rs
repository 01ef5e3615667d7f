//! The demo phones 1001-1003, played by a second Asterisk on its own loopback
//! address (127.0.0.2; a second site's phones on 127.0.0.3): each phone
//! is an endpoint there that registers to the PBX with its extension's password
//! (so the PBX rings it and sends it message-waiting NOTIFYs, as to a desk phone)
//! and places calls into the PBX through the test's own ARI app. DTMF is sent as
//! RFC 4733, audio as RTP; an unsolicited MWI NOTIFY from the PBX is published as
//! device state `MWI:<extension>@phones`, which is how a test sees the lamp.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::ari::{Ari, EventLog, kind};

/// The test's ARI app on the phones' Asterisk.
pub const APP: &str = "phones";

/// Writes the phones' Asterisk configuration into `state/etc`; `data` (sounds) is
/// shared with the PBX's instance.
pub struct PhonesConfig<'a> {
    /// The phones' own loopback address.
    pub host: &'a str,
    pub prefix: &'a Path,
    pub state: &'a Path,
    pub pbx_data: &'a Path,
    pub pbx_sip: u16,
    pub sip: u16,
    pub http: u16,
    pub rtp: (u16, u16),
    pub ari_password: &'a str,
    /// (extension, SIP password) of each phone.
    pub phones: &'a [(&'a str, String)],
}

impl PhonesConfig<'_> {
    pub fn write(&self) {
        for dir in ["etc", "spool/recording", "log", "lib", "run"] {
            std::fs::create_dir_all(self.state.join(dir)).expect("phones' instance folder");
        }
        let state = self.state.display();
        let prefix = self.prefix.display();
        let files = [
            (
                "asterisk.conf",
                format!(
                    "[directories]\nastetcdir => {state}/etc\n\
                     astmoddir => {prefix}/lib/asterisk/modules\nastvarlibdir => {state}/lib\n\
                     astdbdir => {state}/lib\nastkeydir => {state}/lib\n\
                     astdatadir => {data}\nastagidir => {data}/agi-bin\n\
                     astspooldir => {state}/spool\nastrundir => {state}/run\n\
                     astlogdir => {state}/log\nastsbindir => {prefix}/sbin\n\
                     [options]\nverbose = 3\nhideconnect = yes\n",
                    data = self.pbx_data.display()
                ),
            ),
            (
                "modules.conf",
                "[modules]\nautoload = yes\nnoload = app_voicemail.so\n".into(),
            ),
            (
                "logger.conf",
                "[logfiles]\nmessages.log => notice,warning,error,verbose(3)\n".into(),
            ),
            (
                "http.conf",
                format!(
                    "[general]\nenabled = yes\nbindaddr = {}\nbindport = {}\n",
                    self.host, self.http
                ),
            ),
            (
                "ari.conf",
                format!(
                    "[general]\nenabled = yes\n[voiceportal]\ntype = user\n\
                     password = {}\npassword_format = plain\n",
                    self.ari_password
                ),
            ),
            (
                "rtp.conf",
                format!(
                    "[general]\nrtpstart = {}\nrtpend = {}\n",
                    self.rtp.0, self.rtp.1
                ),
            ),
            ("musiconhold.conf", "[general]\n".into()),
            (
                "extensions.conf",
                format!(
                    "[phone-incoming]\n; The PBX rings a phone: the test decides.\n\
                     exten => _X.,1,Stasis({APP},ringing,${{EXTEN}})\n same => n,Hangup()\n"
                ),
            ),
            ("pjsip.conf", self.pjsip()),
        ];
        for (name, content) in files {
            std::fs::write(self.state.join("etc").join(name), content).expect("phones' config");
        }
    }

    fn pjsip(&self) -> String {
        let pbx = format!("127.0.0.1:{}", self.pbx_sip);
        let mut conf = format!(
            "[phones]\ntype = transport\nprotocol = udp\nbind = {}:{}\n\n",
            self.host, self.sip
        );
        let host = self.host;
        for (number, password) in self.phones {
            conf.push_str(&format!(
                "[{number}]\ntype = endpoint\ntransport = phones\ncontext = phone-incoming\n\
                 disallow = all\nallow = ulaw\ndtmf_mode = rfc4733\ndirect_media = no\n\
                 media_address = {host}\nbind_rtp_to_media_address = yes\n\
                 outbound_auth = {number}-auth\naors = {number}-pbx\nfrom_user = {number}\n\
                 incoming_mwi_mailbox = {number}@phones\n\n\
                 [{number}-auth]\ntype = auth\nauth_type = userpass\nusername = {number}\n\
                 password = {password}\n\n\
                 [{number}-pbx]\ntype = aor\ncontact = sip:{pbx}\n\n\
                 [{number}-reg]\ntype = registration\ntransport = phones\n\
                 outbound_auth = {number}-auth\nserver_uri = sip:{pbx}\n\
                 client_uri = sip:{number}@{pbx}\ncontact_user = {number}\n\
                 line = yes\nendpoint = {number}\nexpiration = 300\nretry_interval = 1\n\
                 forbidden_retry_interval = 1\nmax_retries = 100000\n\n"
            ));
        }
        conf
    }
}

/// The test's hands on the phones.
pub struct Phones {
    pub ari: Ari,
    pub events: EventLog,
}

/// How long a test waits for something a person would notice at once.
pub const WAIT: Duration = Duration::from_secs(15);

impl Phones {
    pub async fn connect(ari: Ari) -> Phones {
        let events = ari.events(APP, false).await;
        Phones { ari, events }
    }

    /// Phone `from` dials `number`; returns once the PBX answered.
    pub async fn dial(&self, from: &str, number: &str) -> PhoneCall<'_> {
        let id = format!("phone-{from}-{}", rand::random::<u32>());
        let start = self.events.len();
        let endpoint = format!("PJSIP/{number}@{from}").replace('*', "%2A");
        self.ari
            .post(&format!(
                "/channels?endpoint={endpoint}&app={APP}&appArgs=dialed&channelId={id}&timeout=30"
            ))
            .await
            .unwrap_or_else(|e| panic!("phone {from} cannot dial {number}: {e}"));
        let answered = self
            .events
            .wait_for(start, WAIT, |e| {
                e["channel"]["id"] == id.as_str()
                    && matches!(kind(e), "StasisStart" | "ChannelDestroyed")
            })
            .await;
        match answered {
            Some((_, event)) if kind(&event) == "StasisStart" => {}
            Some((_, event)) => panic!(
                "{from} dialing {number} was not answered: cause {} ({})",
                event["cause"], event["cause_txt"]
            ),
            None => panic!("{from} dialing {number}: no answer within {WAIT:?}"),
        }
        let channel = self
            .ari
            .get(&format!("/channels/{id}"))
            .await
            .expect("the call");
        let call = PhoneCall {
            phones: self,
            id,
            from: from.into(),
            sip_call_id: channel["protocol_id"].as_str().unwrap_or_default().into(),
        };
        call.send_silence().await;
        call
    }

    /// The next call the PBX makes to phone `number` (the phone is ringing).
    pub async fn ringing(&self, from: usize, number: &str) -> String {
        let (_, event) = self
            .events
            .wait_for(from, Duration::from_secs(30), |e| {
                kind(e) == "StasisStart"
                    && e["args"][0] == "ringing"
                    && e["channel"]["name"]
                        .as_str()
                        .is_some_and(|name| name.starts_with(&format!("PJSIP/{number}-")))
            })
            .await
            .unwrap_or_else(|| panic!("phone {number} never rang"));
        event["channel"]["id"].as_str().unwrap_or_default().into()
    }

    /// Whether phone `number`'s message-waiting lamp is lit, as its last NOTIFY said.
    pub async fn lamp(&self, number: &str) -> Option<bool> {
        let state = self
            .ari
            .get(&format!("/deviceStates/MWI:{number}@phones"))
            .await
            .ok()?;
        match state["state"].as_str()? {
            "INUSE" => Some(true),
            "NOT_INUSE" => Some(false),
            _ => None,
        }
    }

    /// Waits until phone `number`'s lamp is `lit`.
    pub async fn wait_lamp(&self, number: &str, lit: bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let now = self.lamp(number).await;
            if now == Some(lit) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "phone {number}'s lamp should be {} but is {now:?}",
                if lit { "on" } else { "off" }
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether every phone is registered with the PBX (as `pbx` sees it).
    pub async fn wait_registered(pbx: &Ari, numbers: &[&str]) {
        let deadline = tokio::time::Instant::now() + WAIT;
        for number in numbers {
            loop {
                let endpoint = pbx
                    .get(&format!("/endpoints/PJSIP/{number}"))
                    .await
                    .unwrap_or(Value::Null);
                if endpoint["state"] == "online" {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "phone {number} did not register with the PBX: {endpoint}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A call placed by a phone and answered by the PBX.
pub struct PhoneCall<'a> {
    phones: &'a Phones,
    /// The phone side's channel.
    pub id: String,
    pub from: String,
    /// The SIP Call-ID, shared with the PBX's side of the call.
    pub sip_call_id: String,
}

impl PhoneCall<'_> {
    /// Presses keys (RFC 4733), a little slower than a fast thumb.
    pub async fn press(&self, digits: &str) {
        let digits = digits.replace('#', "%23").replace('*', "%2A");
        self.phones
            .ari
            .post(&format!(
                "/channels/{}/dtmf?dtmf={digits}&duration=120&between=150",
                self.id
            ))
            .await
            .unwrap_or_else(|e| panic!("phone {} cannot press keys: {e}", self.from));
    }

    /// Sends silence, as a phone's microphone does between words: RTP flows all
    /// the time, and keys can still be pressed (a playback would hold them back).
    async fn send_silence(&self) {
        let _ = self
            .phones
            .ari
            .post(&format!("/channels/{}/silence", self.id))
            .await;
    }

    /// Speaks into the phone: plays `media` (e.g. `sound:vm-intro`) towards the PBX
    /// and waits until it has been said.
    pub async fn say(&self, media: &str) {
        let playback = format!("say-{}", rand::random::<u32>());
        let start = self.phones.events.len();
        self.phones
            .ari
            .post(&format!(
                "/channels/{}/play/{playback}?media={media}",
                self.id
            ))
            .await
            .unwrap_or_else(|e| panic!("phone {} cannot speak: {e}", self.from));
        self.phones
            .events
            .wait_for(start, Duration::from_secs(60), |e| {
                kind(e) == "PlaybackFinished" && e["playback"]["id"] == playback.as_str()
            })
            .await
            .unwrap_or_else(|| panic!("phone {} never finished saying {media}", self.from));
        self.send_silence().await;
    }

    /// Records `secs` seconds of what the phone hears; returns the WAV file.
    pub async fn listen(&self, secs: u32) -> Vec<u8> {
        let name = format!("heard-{}", rand::random::<u32>());
        let start = self.phones.events.len();
        self.phones
            .ari
            .post(&format!(
                "/channels/{}/record?name={name}&format=wav&maxDurationSeconds={secs}&ifExists=overwrite",
                self.id
            ))
            .await
            .unwrap_or_else(|e| panic!("phone {} cannot record: {e}", self.from));
        self.phones
            .events
            .wait_for(start, Duration::from_secs(u64::from(secs) + 10), |e| {
                kind(e) == "RecordingFinished" && e["recording"]["name"] == name.as_str()
            })
            .await
            .unwrap_or_else(|| panic!("the phone's recording {name} never finished"));
        self.phones
            .ari
            .recording_file(&name)
            .await
            .expect("what the phone heard")
    }

    pub async fn hang_up(&self) {
        let _ = self
            .phones
            .ari
            .delete(&format!("/channels/{}", self.id))
            .await;
    }

    /// Waits until the PBX has hung up on the phone; false if it has not within
    /// `timeout`.
    pub async fn wait_hung_up(&self, timeout: Duration) -> bool {
        self.phones
            .events
            .wait_for(0, timeout, |e| {
                e["channel"]["id"] == self.id.as_str()
                    && matches!(kind(e), "ChannelDestroyed" | "StasisEnd")
            })
            .await
            .is_some()
    }
}
