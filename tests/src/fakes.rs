//! In-memory devices for tests: a block device and a boot environment that count operations
//! and can be cut off (power loss) after a number of writes.
use mender_core::hal::{BlockDevice, BootEnv};
use std::collections::BTreeMap;
use std::fmt;

/// A failure injected by a fake: the power went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerCut;

impl fmt::Display for PowerCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("power cut (injected)")
    }
}

/// A block device in memory. `fuel` = number of write calls that still succeed.
pub struct MemDevice {
    pub data: Vec<u8>,
    pub writes: usize,
    pub bytes_written: u64,
    pub syncs: usize,
    pub fuel: Option<usize>,
}

impl MemDevice {
    pub fn new(data: Vec<u8>) -> MemDevice {
        MemDevice {
            data,
            writes: 0,
            bytes_written: 0,
            syncs: 0,
            fuel: None,
        }
    }
}

impl BlockDevice for MemDevice {
    type Error = PowerCut;
    fn size(&mut self) -> Result<u64, PowerCut> {
        Ok(self.data.len() as u64)
    }
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), PowerCut> {
        let o = offset as usize;
        buf.copy_from_slice(&self.data[o..o + buf.len()]);
        Ok(())
    }
    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), PowerCut> {
        if let Some(f) = &mut self.fuel {
            if *f == 0 {
                return Err(PowerCut);
            }
            *f -= 1;
        }
        let o = offset as usize;
        self.data[o..o + data.len()].copy_from_slice(data);
        self.writes += 1;
        self.bytes_written += data.len() as u64;
        Ok(())
    }
    fn sync(&mut self) -> Result<(), PowerCut> {
        self.syncs += 1;
        Ok(())
    }
}

/// A boot environment in memory; each `set` is atomic. `fuel` = number of sets that succeed.
#[derive(Default)]
pub struct MemEnv {
    pub vars: BTreeMap<String, String>,
    pub sets: usize,
    pub fuel: Option<usize>,
}

impl MemEnv {
    pub fn with(vars: &[(&str, &str)]) -> MemEnv {
        MemEnv {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..MemEnv::default()
        }
    }
    pub fn var(&self, k: &str) -> Option<&str> {
        self.vars.get(k).map(String::as_str)
    }
}

impl BootEnv for MemEnv {
    type Error = PowerCut;
    fn get(&mut self, name: &str, buf: &mut [u8]) -> Result<Option<usize>, PowerCut> {
        Ok(self.vars.get(name).map(|v| {
            buf[..v.len()].copy_from_slice(v.as_bytes());
            v.len()
        }))
    }
    fn set(&mut self, vars: &[(&str, &str)]) -> Result<(), PowerCut> {
        if let Some(f) = &mut self.fuel {
            if *f == 0 {
                return Err(PowerCut);
            }
            *f -= 1;
        }
        for (k, v) in vars {
            if v.is_empty() {
                self.vars.remove(*k);
            } else {
                self.vars.insert(k.to_string(), v.to_string());
            }
        }
        self.sets += 1;
        Ok(())
    }
}
