//! Commonplace's logic, free of I/O.
//!
//! Everything here runs natively: the browser app is a thin shell that feeds events into these
//! types and carries out what they return. Nothing in this crate touches a socket, a timer or
//! the DOM; time and randomness come in as arguments. What crosses a network (signaling,
//! frames, chunks, room encryption) is `commonplace_protocol`'s, which the server uses alone;
//! [`peer_message`] is where its frames meet yrs's types.

pub mod app;
pub mod crc32;
pub mod history;
pub mod notebook;
pub mod peer_message;
pub mod room;
pub mod text;
