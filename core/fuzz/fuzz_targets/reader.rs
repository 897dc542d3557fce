//! Fuzzes the Artifact reader: any input, cut into chunks whose sizes come from the input
//! itself, must end in `Ok` or an error, never a panic, and the verdict must not depend on the
//! chunking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mender_core::reader::{Config, Event, HeapBuffers, Reader};

fn verdict(data: &[u8], chunk: usize) -> Result<(), String> {
    let mut buffers = HeapBuffers::new();
    let mut r = Reader::new(buffers.buffers(), Config::default());
    for c in data.chunks(chunk.max(1)) {
        let mut c = c;
        loop {
            let (n, ev) = r.feed(c).map_err(|e| e.to_string())?;
            c = &c[n..];
            if ev == Event::NeedMore {
                break;
            }
        }
    }
    r.finish().map_err(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    let Some((&k, rest)) = data.split_first() else {
        return;
    };
    let whole = verdict(rest, usize::MAX);
    let chunked = verdict(rest, usize::from(k) + 1);
    assert_eq!(whole, chunked);
});
