//! Frames to peers no data channel reaches go through the signaling server: the same
//! data-channel frames (sync, awareness, chunks of large ones), base64 in a `relay` publish
//! addressed to one peer, encrypted with the rest of the publish in a keyed room (the server
//! sees ciphertext only). Which peers need it is the mesh's call (`mesh::link`); this is the
//! way there and back.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use commonplace_protocol::signaling::RoomSignal;

use super::mesh::Path;
use super::Room;

/// A relayed frame is at most a chunk (64 KiB) plus its header: base64 makes it 87 KB, a keyed
/// room's envelope 116 KB, under the server's 256 KiB frame limit. Anything longer than this
/// base64 is not ours.
const MAX_RELAYED_BASE64: usize = 96 * 1024;

impl Room {
    /// Turns the frames the mesh put aside for relayed peers into publishes.
    pub(super) fn flush_relay(&mut self) {
        for (peer, frame) in self.out.take_relayed() {
            let signal = RoomSignal::Relay {
                from: self.peer_id.clone(),
                to: peer,
                frame: BASE64.encode(frame),
            };
            self.signaling.publish(signal, &mut self.out);
        }
    }

    /// Tells the peers only the server reaches that this one is going: no connection closing
    /// tells them. An empty frame says it.
    pub(super) fn relay_goodbye(&mut self) {
        let relayed: Vec<_> = self
            .mesh
            .paths()
            .filter(|(_, path)| *path == Path::Relay)
            .map(|(peer, _)| peer.clone())
            .collect();
        for peer in relayed {
            self.out.relay(&peer, Vec::new());
        }
    }

    /// A relayed frame for us from `from`.
    pub(super) fn on_relayed_frame(&mut self, from: &str, frame: &str) {
        if frame.is_empty() {
            if self.mesh.on_goodbye(from, &mut self.out) {
                self.announce();
            }
            return;
        }
        if frame.len() > MAX_RELAYED_BASE64 {
            return self
                .out
                .dropped(format!("relayed frame from {from}: too long"));
        }
        let bytes = match BASE64.decode(frame) {
            Ok(bytes) => bytes,
            Err(error) => {
                return self
                    .out
                    .dropped(format!("relayed frame from {from}: {error}"));
            }
        };
        if !self.mesh.on_relayed(self.now, from) {
            return self.out.dropped(format!(
                "relayed frame from {from}: no room for another peer"
            ));
        }
        self.on_peer_frame(from, Path::Relay, &bytes);
    }
}
