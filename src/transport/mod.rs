//! The browser's networking, wrapped to speak in the core's terms: text frames to and from the
//! signaling server, signals and binary frames to and from a WebRTC peer.

pub mod broadcast;
pub mod config;
pub mod server_store;
pub mod signaling;
pub mod webrtc;
