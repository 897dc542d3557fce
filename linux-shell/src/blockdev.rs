//! The inactive partition on Linux: a block device node or, for simulated devices, a regular
//! file. Positional reads and writes; `sync` is fsync.
use mender_core::hal::BlockDevice;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A partition opened for reading and writing.
pub struct PartitionDevice {
    file: File,
    size: u64,
}

impl PartitionDevice {
    /// Opens `path`; its size is the file length or the block device capacity. A regular file
    /// is never grown: writes beyond its end are refused by [`BlockDevice::size`] checks.
    pub fn open(path: &Path) -> std::io::Result<PartitionDevice> {
        let mut file = OpenOptions::new().read(true).write(true).open(path)?;
        let size = file.seek(SeekFrom::End(0))?;
        Ok(PartitionDevice { file, size })
    }
}

impl BlockDevice for PartitionDevice {
    type Error = std::io::Error;

    fn size(&mut self) -> Result<u64, Self::Error> {
        Ok(self.size)
    }

    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
        self.file.read_exact_at(buf, offset)
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), Self::Error> {
        if offset + data.len() as u64 > self.size {
            return Err(std::io::Error::other(
                "write beyond the end of the partition",
            ));
        }
        self.file.write_all_at(data, offset)
    }

    fn sync(&mut self) -> Result<(), Self::Error> {
        self.file.sync_all()
    }
}
