//! PLACEHOLDER until the gzip decoder lands (being written in parallel); not for release.
use super::{CodecError, Compression, Step, Window};

pub struct GzipDecoder;

impl GzipDecoder {
    pub fn new( ) -> Self {
        GzipDecoder
    }
    pub fn decode(&mut self, _input: &[u8], _window: &mut Window, _last: bool) -> Result<Step, CodecError> {
        Err(CodecError::NotSupported(Compression::None))
    }
}
