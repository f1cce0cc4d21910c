//! The log markers the parity fixture looks for, and a one-pass search for them.
//!
//! The answer is defined as "the first marker of [`MARKERS`] that the line contains", which is
//! what the Lua twin computes with one `string.find` per marker. Three `str::contains` calls
//! give that answer too, but compiled for wasm32 they made the scan of a log line about twenty
//! times slower in the sandbox than natively (about 250 against 12 ns per 70-byte line; in
//! callgrind, about 6,200 of the 13,900 instructions of a one-line call). [`find_marker`] looks
//! for all markers in one pass that skips most bytes of a line.
//!
//! This file is also compiled into the host's `plugin_dispatch` benchmark (via `#[path]`), so
//! the native baseline there runs exactly this code.

/// Markers searched from the newest line back: the text, the diagnosis category it means, and
/// the hint that goes with it. Earlier markers win when a line holds more than one.
pub const MARKERS: [(&str, &str, &str); 3] = [
    (
        "Address already in use",
        "port_in_use",
        "Pick another port with --port.",
    ),
    (
        "No such file or directory",
        "model_not_found",
        "Check the model path.",
    ),
    (
        "not supported",
        "unsupported_architecture",
        "Upgrade mlx-lm.",
    ),
];

/// The length of the shortest marker: the search looks at the line through a window this wide.
const WINDOW: usize = {
    let mut shortest = usize::MAX;
    let mut index = 0;
    while index < MARKERS.len() {
        let len = MARKERS[index].0.len();
        if len < shortest {
            shortest = len;
        }
        index += 1;
    }
    assert!(
        shortest > 0 && shortest < 256,
        "markers must be 1 to 255 bytes"
    );
    shortest
};

/// For every byte value, 1 + the index of the marker whose first [`WINDOW`] bytes end with it,
/// or 0 for none. Fails to compile if two markers would share an entry.
const WINDOW_ENDS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut index = 0;
    while index < MARKERS.len() {
        let last = MARKERS[index].0.as_bytes()[WINDOW - 1] as usize;
        assert!(
            table[last] == 0,
            "two markers end their window with the same byte"
        );
        table[last] = index as u8 + 1;
        index += 1;
    }
    table
};

/// For every byte value, how far the window may move on when the byte is under its last
/// position: the distance from that position back to the byte's last place among the other
/// window positions of any marker, or the whole window when no marker has it there.
const SHIFTS: [u8; 256] = {
    let mut table = [WINDOW as u8; 256];
    let mut index = 0;
    while index < MARKERS.len() {
        let bytes = MARKERS[index].0.as_bytes();
        let mut position = 0;
        while position < WINDOW - 1 {
            let shift = (WINDOW - 1 - position) as u8;
            let byte = bytes[position] as usize;
            if shift < table[byte] {
                table[byte] = shift;
            }
            position += 1;
        }
        index += 1;
    }
    table
};

/// The index in [`MARKERS`] of the first marker `line` contains, in [`MARKERS`] order; the same
/// answer as `MARKERS.iter().position(|marker| line.contains(marker.0))`.
///
/// One pass for all markers at once (Horspool's method over a window as wide as the shortest
/// marker): the byte under the window's last position says how far the window can move without
/// passing over a place where a marker could start, usually several bytes, and a marker is
/// compared in full only where its first [`WINDOW`] bytes end with that byte.
pub fn find_marker(line: &str) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut best: Option<usize> = None;
    let mut end = WINDOW - 1;
    while let Some(&byte) = bytes.get(end) {
        let slot = WINDOW_ENDS[usize::from(byte)];
        if slot != 0 {
            let index = usize::from(slot - 1);
            let start = end + 1 - WINDOW;
            if best.is_none_or(|best| index < best)
                && bytes[start..].starts_with(MARKERS[index].0.as_bytes())
            {
                if index == 0 {
                    return Some(0);
                }
                best = Some(index);
            }
        }
        end += usize::from(SHIFTS[usize::from(byte)]);
    }
    best
}
