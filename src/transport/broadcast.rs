//! The BroadcastChannel shared by this browser's tabs in one room, named after the room as
//! y-webrtc (lib0) names it; frames are y-webrtc's data-channel frames.

use gloo::events::EventListener;
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use web_sys::{BroadcastChannel, MessageEvent};

pub struct Broadcast {
    channel: BroadcastChannel,
    _on_message: EventListener,
}

impl Broadcast {
    /// `None` where the browser has no BroadcastChannel.
    pub fn open(room: &str, on_frame: impl Fn(Vec<u8>) + 'static) -> Option<Broadcast> {
        let channel = BroadcastChannel::new(room).ok()?;
        let on_message = EventListener::new(&channel, "message", move |event| {
            let data = event.unchecked_ref::<MessageEvent>().data();
            // lib0 posts Uint8Arrays; accept any buffer or view of bytes.
            if data.is_instance_of::<Uint8Array>() || data.is_instance_of::<js_sys::ArrayBuffer>() {
                on_frame(Uint8Array::new(&data).to_vec());
            }
        });
        Some(Broadcast {
            channel,
            _on_message: on_message,
        })
    }

    pub fn send(&self, bytes: &[u8]) {
        let _ = self.channel.post_message(&Uint8Array::from(bytes));
    }
}

impl Drop for Broadcast {
    fn drop(&mut self) {
        self.channel.close();
    }
}
