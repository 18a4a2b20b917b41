//! One WebRTC connection to a peer, negotiated the way simple-peer (y-webrtc's) does it: the
//! initiator creates an in-band data channel and offers; candidates trickle both ways.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;

use commonplace_protocol::signaling::{IceCandidate, SignalData};
use gloo::events::EventListener;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MessageEvent, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent, RtcDataChannelState,
    RtcDataChannelType, RtcIceCandidateInit, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcPeerConnectionState, RtcSdpType, RtcSessionDescriptionInit, RtcSignalingState,
};

pub enum PeerEvent {
    /// Our side produced a signal for the other side.
    Signal(SignalData),
    /// The channel frames go out on is open. `announced`: the other side created it (it came
    /// in a `datachannel` event), so Chromium may still drop what we send for a few
    /// milliseconds (see `commonplace_core::room::ANSWERER_WAIT_MS`).
    Open {
        announced: bool,
    },
    Frame(Vec<u8>),
    Closed,
}

type OnEvent = Rc<dyn Fn(PeerEvent)>;

/// Frames wait in `Shared::queue` while the channel buffers more than this (Chromium closes a
/// channel whose buffer passes 16 MiB), and go out again once it drains below the low mark.
/// Kept small: `send` copies each frame on the main thread, so a late join's frames go out
/// about 1 MiB per task instead of in one long task.
const BUFFER_HIGH: u32 = 1 << 20;
const BUFFER_LOW: u32 = 256 << 10;

pub struct PeerConnection {
    pc: RtcPeerConnection,
    shared: Rc<Shared>,
    _listeners: [EventListener; 3],
}

struct Shared {
    on_event: OnEvent,
    /// The channel frames go out on: the first one to open, or to deliver a frame. After
    /// glare, a connection may carry the other side's channel as well as its own; frames are
    /// read from both.
    channel: RefCell<Option<RtcDataChannel>>,
    channels: RefCell<Vec<(RtcDataChannel, [EventListener; 4])>>,
    queue: RefCell<VecDeque<Vec<u8>>>,
    /// Candidates wait until the remote description is set.
    remote_described: Cell<bool>,
    pending_candidates: RefCell<Vec<IceCandidate>>,
}

impl PeerConnection {
    pub fn new(
        initiator: bool,
        ice_servers: &JsValue,
        on_event: impl Fn(PeerEvent) + 'static,
    ) -> Result<PeerConnection, JsValue> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(ice_servers);
        let pc = match crate::head_start::peer_connection() {
            // Made as the page started: WebRTC's set-up and the certificate are done by now.
            Some(pc)
                if pc.signaling_state() == RtcSignalingState::Stable
                    && pc.set_configuration_with_configuration(&config).is_ok() =>
            {
                pc
            }
            _ => RtcPeerConnection::new_with_configuration(&config)?,
        };
        let shared = Rc::new(Shared {
            on_event: Rc::new(on_event),
            channel: RefCell::new(None),
            channels: RefCell::new(Vec::new()),
            queue: RefCell::new(VecDeque::new()),
            remote_described: Cell::new(false),
            pending_candidates: RefCell::new(Vec::new()),
        });
        let on_candidate = EventListener::new(&pc, "icecandidate", {
            let shared = Rc::downgrade(&shared);
            move |event| {
                let event = event.unchecked_ref::<RtcPeerConnectionIceEvent>();
                let (Some(shared), Some(candidate)) = (shared.upgrade(), event.candidate()) else {
                    return;
                };
                (shared.on_event)(PeerEvent::Signal(SignalData::Candidate {
                    candidate: IceCandidate {
                        candidate: candidate.candidate(),
                        sdp_m_line_index: candidate.sdp_m_line_index(),
                        sdp_mid: candidate.sdp_mid(),
                    },
                }));
            }
        });
        let on_state = EventListener::new(&pc, "connectionstatechange", {
            let shared = Rc::downgrade(&shared);
            let pc = pc.clone();
            move |_| {
                let failed = matches!(
                    pc.connection_state(),
                    RtcPeerConnectionState::Failed | RtcPeerConnectionState::Closed
                );
                if let (true, Some(shared)) = (failed, shared.upgrade()) {
                    (shared.on_event)(PeerEvent::Closed);
                }
            }
        });
        let on_channel = EventListener::new(&pc, "datachannel", {
            let shared = Rc::downgrade(&shared);
            move |event| {
                if let Some(shared) = shared.upgrade() {
                    let channel = event.unchecked_ref::<RtcDataChannelEvent>().channel();
                    adopt_channel(&shared, channel, true);
                }
            }
        });
        if initiator {
            adopt_channel(&shared, pc.create_data_channel(&random_label()), false);
            let pc = pc.clone();
            let shared = shared.clone();
            spawn_local(async move {
                let offered = offer(&pc, &shared).await;
                // A connection replaced meanwhile (our offer lost to theirs: the room answers
                // on a new one) is closed: its offer is moot, not a failure.
                let replaced = pc.signaling_state() == RtcSignalingState::Closed;
                if let (Err(error), false) = (offered, replaced) {
                    gloo::console::warn!("webrtc: offer failed", error);
                    (shared.on_event)(PeerEvent::Closed);
                }
            });
        }
        Ok(PeerConnection {
            pc,
            shared,
            _listeners: [on_candidate, on_state, on_channel],
        })
    }

    /// Applies a signal from the other side. A description goes to the browser now, not in a
    /// microtask after the current task: while the app starts, that task is its whole first
    /// render, and the connection's own work can run meanwhile.
    pub fn signal(&self, signal: SignalData) {
        let applying = apply_signal(self.pc.clone(), self.shared.clone(), signal);
        spawn_local(async move {
            if let Err(error) = applying.await {
                gloo::console::warn!("webrtc: signal failed", error);
            }
        });
    }

    /// Sends a frame now, or queues it (without copying it again) while the channel is full.
    pub fn send(&self, bytes: Vec<u8>) {
        let _span = crate::perf::span("channel send");
        let channel = self.shared.channel.borrow();
        let Some(channel) = channel.as_ref() else {
            return;
        };
        if channel.ready_state() != RtcDataChannelState::Open {
            // Closing: the close event follows, and the room resyncs over the next connection.
            gloo::console::warn!("webrtc: a frame for a closing channel was not sent");
            return;
        }
        let mut queue = self.shared.queue.borrow_mut();
        let sent = queue.is_empty()
            && channel.buffered_amount() <= BUFFER_HIGH
            && channel.send_with_u8_array(&bytes).is_ok();
        if !sent {
            queue.push_back(bytes);
        }
    }
}

impl Drop for PeerConnection {
    fn drop(&mut self) {
        for (channel, _) in self.shared.channels.borrow_mut().drain(..) {
            channel.close();
        }
        self.pc.close();
    }
}

async fn offer(pc: &RtcPeerConnection, shared: &Shared) -> Result<(), JsValue> {
    let sdp = set_local_description(pc).await?;
    (shared.on_event)(PeerEvent::Signal(SignalData::Offer { sdp }));
    Ok(())
}

/// Starts applying `signal` (a description at once), and finishes in the future returned.
fn apply_signal(
    pc: RtcPeerConnection,
    shared: Rc<Shared>,
    signal: SignalData,
) -> impl Future<Output = Result<(), JsValue>> {
    let description = match &signal {
        SignalData::Offer { sdp } => Some((RtcSdpType::Offer, sdp)),
        SignalData::Answer { sdp } => Some((RtcSdpType::Answer, sdp)),
        _ => None,
    };
    // What follows the remote description goes into the connection's operations chain now,
    // behind it: the browser makes and sets the answer, and adds the candidates that came
    // before it, without a round trip through this main thread between the steps (while the
    // app starts, each such round trip waited 10-30 ms for a task of the first render).
    let described = description.map(|(kind, sdp)| {
        let description = RtcSessionDescriptionInit::new(kind);
        description.set_sdp(sdp);
        let described = JsFuture::from(pc.set_remote_description(&description));
        let answered = (kind == RtcSdpType::Offer).then(|| set_local_description(&pc));
        shared.remote_described.set(true);
        let pending = std::mem::take(&mut *shared.pending_candidates.borrow_mut());
        let added: Vec<JsFuture> = pending.iter().map(|c| add_candidate(&pc, c)).collect();
        (described, answered, added)
    });
    let added = match &signal {
        SignalData::Candidate { candidate } if shared.remote_described.get() => {
            Some(add_candidate(&pc, candidate))
        }
        SignalData::Candidate { candidate } => {
            shared
                .pending_candidates
                .borrow_mut()
                .push(candidate.clone());
            None
        }
        _ => None,
    };
    async move {
        if let Some(added) = added {
            added.await?;
        }
        let Some((described, answered, candidates)) = described else {
            return Ok(());
        };
        described.await?;
        if let Some(answered) = answered {
            let sdp = answered.await?;
            (shared.on_event)(PeerEvent::Signal(SignalData::Answer { sdp }));
        }
        for added in candidates {
            // One gathered for an offer that glare made moot fails; the others still count.
            if let Err(error) = added.await {
                gloo::console::warn!("webrtc: candidate refused", error);
            }
        }
        Ok(())
    }
}

/// `setLocalDescription()` without a description: the browser makes the offer or answer the
/// connection's state calls for, in the same step. Settles with its SDP.
fn set_local_description(pc: &RtcPeerConnection) -> impl Future<Output = Result<String, JsValue>> {
    let set = Reflect::get(pc, &"setLocalDescription".into())
        .and_then(|f| f.dyn_into::<js_sys::Function>())
        .and_then(|f| f.call0(pc))
        .and_then(|p| p.dyn_into::<js_sys::Promise>());
    let pc = pc.clone();
    async move {
        JsFuture::from(set?).await?;
        pc.local_description()
            .map(|description| description.sdp())
            .ok_or_else(|| JsValue::from_str("no local description once it was set"))
    }
}

/// Adds `candidate` now (in the operations chain); the future says how that went.
fn add_candidate(pc: &RtcPeerConnection, candidate: &IceCandidate) -> JsFuture {
    let init = RtcIceCandidateInit::new(&candidate.candidate);
    init.set_sdp_mid(candidate.sdp_mid.as_deref());
    init.set_sdp_m_line_index(candidate.sdp_m_line_index);
    JsFuture::from(pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init)))
}

/// Sends queued frames while the channel has room. A frame the channel refuses stays first in
/// line for the next `bufferedamountlow` (or goes with the connection, if it is closing).
fn drain_queue(shared: &Shared, channel: &RtcDataChannel) {
    let _span = crate::perf::span("channel drain");
    let mut queue = shared.queue.borrow_mut();
    while channel.buffered_amount() <= BUFFER_HIGH {
        let Some(frame) = queue.front() else {
            break;
        };
        if channel.send_with_u8_array(frame).is_err() {
            break;
        }
        queue.pop_front();
    }
}

/// Makes `channel` the one frames go out on, if none is yet, and says so.
fn choose_channel(shared: &Shared, channel: &RtcDataChannel, announced: bool) {
    if shared.channel.borrow().is_some() {
        return;
    }
    *shared.channel.borrow_mut() = Some(channel.clone());
    (shared.on_event)(PeerEvent::Open { announced });
}

/// `announced`: the other side created the channel.
fn adopt_channel(shared: &Rc<Shared>, channel: RtcDataChannel, announced: bool) {
    channel.set_binary_type(RtcDataChannelType::Arraybuffer);
    channel.set_buffered_amount_low_threshold(BUFFER_LOW);
    let weak = Rc::downgrade(shared);
    let on_open = EventListener::new(&channel, "open", {
        let weak = weak.clone();
        let channel = channel.clone();
        move |_| {
            if let Some(shared) = weak.upgrade() {
                choose_channel(&shared, &channel, announced);
            }
        }
    });
    let on_message = EventListener::new(&channel, "message", {
        let weak = weak.clone();
        let channel = channel.clone();
        move |event| {
            let Some(shared) = weak.upgrade() else { return };
            // Chromium delivers a frame only on an end that is open, so one that came before
            // the `open` event opens the channel (our frames would go out now too).
            choose_channel(&shared, &channel, false);
            let _span = crate::perf::span("channel message");
            let data = event.unchecked_ref::<MessageEvent>().data();
            if data.is_instance_of::<js_sys::ArrayBuffer>() {
                (shared.on_event)(PeerEvent::Frame(Uint8Array::new(&data).to_vec()));
            }
        }
    });
    let on_close = EventListener::new(&channel, "close", {
        let channel = channel.clone();
        move |_| {
            let Some(shared) = weak.upgrade() else { return };
            let is_ours = shared.channel.borrow().as_ref() == Some(&channel);
            if is_ours {
                (shared.on_event)(PeerEvent::Closed);
            }
        }
    });
    let on_low = EventListener::new(&channel, "bufferedamountlow", {
        let weak = Rc::downgrade(shared);
        let channel = channel.clone();
        move |_| {
            if let Some(shared) = weak.upgrade() {
                drain_queue(&shared, &channel);
            }
        }
    });
    shared
        .channels
        .borrow_mut()
        .push((channel, [on_open, on_message, on_close, on_low]));
}

/// simple-peer names channels with 20 random bytes in hex.
fn random_label() -> String {
    let mut bytes = [0u8; 20];
    crate::random::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The ICE candidate pair a connection uses, as its stats say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SelectedPair {
    /// `host`, `srflx`, `prflx` or `relay`.
    pub local: Option<String>,
    pub remote: Option<String>,
    pub rtt_ms: Option<u64>,
}

impl PeerConnection {
    /// The selected candidate pair (what path the channel takes), from `getStats()`.
    pub fn selected_pair(&self) -> impl std::future::Future<Output = Option<SelectedPair>> {
        let pc = self.pc.clone();
        async move {
            let report = JsFuture::from(pc.get_stats()).await.ok()?;
            let values = Reflect::get(&report, &"values".into()).ok()?;
            let values: js_sys::Function = values.dyn_into().ok()?;
            let iterator = values.call0(&report).ok()?;
            let stats: Vec<JsValue> = js_sys::try_iter(&iterator).ok()??.flatten().collect();
            let field = |stat: &JsValue, name: &str| Reflect::get(stat, &name.into()).ok();
            let text = |stat: &JsValue, name: &str| field(stat, name).and_then(|v| v.as_string());
            let by_id = |id: Option<String>| {
                let id = id?;
                stats.iter().find(|s| text(s, "id").as_deref() == Some(&id))
            };
            // The transport names its selected pair; else the nominated pair that succeeded.
            let selected = stats
                .iter()
                .filter(|s| text(s, "type").as_deref() == Some("transport"))
                .find_map(|t| by_id(text(t, "selectedCandidatePairId")))
                .or_else(|| {
                    stats.iter().find(|s| {
                        text(s, "type").as_deref() == Some("candidate-pair")
                            && text(s, "state").as_deref() == Some("succeeded")
                            && field(s, "nominated").and_then(|v| v.as_bool()) == Some(true)
                    })
                })?;
            let candidate_type =
                |id| by_id(text(selected, id)).and_then(|c| text(c, "candidateType"));
            let rtt = field(selected, "currentRoundTripTime").and_then(|v| v.as_f64());
            Some(SelectedPair {
                local: candidate_type("localCandidateId"),
                remote: candidate_type("remoteCandidateId"),
                rtt_ms: rtt.map(|seconds| (seconds * 1000.0).round() as u64),
            })
        }
    }
}
