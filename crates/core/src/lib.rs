//! Commonplace's logic, free of I/O.
//!
//! Everything here runs natively: the browser app and the server are thin shells that feed
//! events into these types and carry out what they return. Nothing in this crate touches a
//! socket, a timer or the DOM; time and randomness come in as arguments.

pub mod app;
pub mod chunk;
pub mod crypto;
pub mod hub;
pub mod notebook;
pub mod peer_message;
pub mod room;
pub mod signaling;
pub mod text;
