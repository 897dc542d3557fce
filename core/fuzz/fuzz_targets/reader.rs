//! Fuzzes the Artifact reader: any input, cut into chunks whose sizes come from the input
//! itself, must end in `Ok` or an error, never a panic, and the verdict must not depend on the
//! chunking. Both set-ups are fuzzed: the hosted one (full arena, fast decode workspace) and
//! the microcontroller one (a small arena, the small inflate engine's workspace).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mender_core::codec::{SmallWorkspace, Workspace, WorkspaceMut};
use mender_core::reader::{Buffers, Config, Event, Reader, ARENA_SIZE_FULL};

fn verdict(data: &[u8], chunk: usize, small: bool) -> Result<(), String> {
    let mut arena = vec![0u8; if small { 768 } else { ARENA_SIZE_FULL }];
    let mut fast = Box::new(Workspace::new());
    let mut tiny = Box::new(SmallWorkspace::new());
    let workspace: WorkspaceMut<'_> = if small {
        (&mut *tiny).into()
    } else {
        (&mut *fast).into()
    };
    let buffers = Buffers {
        arena: &mut arena,
        workspace: Some(workspace),
    };
    let mut r = Reader::new(buffers, Config::default());
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
    let Some((&k, rest)) = data.split_first() else { return };
    for small in [false, true] {
        let whole = verdict(rest, usize::MAX, small);
        let chunked = verdict(rest, usize::from(k) + 1, small);
        assert_eq!(whole, chunked);
    }
});
