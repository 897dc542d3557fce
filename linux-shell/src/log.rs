//! Log lines on stderr in the official client's logrus text form
//! (`time="..." level=info msg="..."`), filtered by `--log-level`, and copied into the
//! deployment log while a deployment runs.
use crate::deploylog::{rfc3339_utc, DeploymentLog, Level};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);
static DEPLOYMENT: Mutex<Option<DeploymentLog>> = Mutex::new(None);

/// Parses a logrus level name.
pub fn parse_level(name: &str) -> Option<Level> {
    Some(match name {
        "panic" => Level::Panic,
        "fatal" => Level::Fatal,
        "error" => Level::Error,
        "warn" | "warning" => Level::Warning,
        "info" => Level::Info,
        "debug" => Level::Debug,
        "trace" => Level::Trace,
        _ => return None,
    })
}

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Starts copying log lines into `log` (until [`end_deployment`]).
pub fn start_deployment(log: DeploymentLog) {
    if let Ok(mut d) = DEPLOYMENT.lock() {
        *d = Some(log);
    }
}

pub fn end_deployment() {
    if let Ok(mut d) = DEPLOYMENT.lock() {
        *d = None;
    }
}

/// Logs `msg` at `level`.
pub fn log(level: Level, msg: &str) {
    if (level as u8) > LEVEL.load(Ordering::Relaxed) {
        return;
    }
    let escaped = msg.replace('\\', "\\\\").replace('"', "\\\"");
    eprintln!(
        "time=\"{}\" level={} msg=\"{}\"",
        rfc3339_utc(SystemTime::now()),
        level.as_str(),
        escaped
    );
    if let Ok(mut d) = DEPLOYMENT.lock() {
        if let Some(d) = d.as_mut() {
            // A log that cannot be written must not stop the update itself.
            let _ = d.write(level, msg);
        }
    }
}

pub fn info(msg: &str) {
    log(Level::Info, msg)
}
pub fn warn(msg: &str) {
    log(Level::Warning, msg)
}
pub fn error(msg: &str) {
    log(Level::Error, msg)
}
pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}
