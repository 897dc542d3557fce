//! Standalone mode, as the Mender 3.x client: `install`, `commit`, `rollback`,
//! `show-artifact`, `show-provides` (../shared/spec/client-behavior.md §1).
//!
//! Order of persistent effects in `install`: payload onto the inactive partition (synced) →
//! `standalone-state` record (atomic file) → one atomic boot-env switch. `commit`: boot env
//! `upgrade_available=0` → provides (atomic file) → state record removed. Each step can be
//! repeated after a power cut.
use crate::blockdev::PartitionDevice;
use crate::bootenv::{self, LinuxBootEnv};
use crate::config::{BootEnvironment, Config};
use crate::deploylog::{self, DeploymentLog, Level};
use crate::log;
use crate::partitions::{self, Slots};
use crate::store::{InstalledArtifact, PartitionSwitch, StandaloneState, Store};
use crate::verify::load_keys;
use mender_core::install::{self, Device, ImageWriter, InstallError, Rollback, RootfsUpdate};
use mender_core::provides;
use mender_core::reader::{Config as ReaderConfig, HeapBuffers};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

/// Input read size and device write unit: large enough for throughput, small for RAM.
const CHUNK: usize = 64 * 1024;

/// Exit codes of the 3.x client (G:main.go).
pub const EXIT_NOTHING_TO_DO: u8 = 2;
pub const EXIT_REBOOT_REQUIRED: u8 = 4;

/// Global options.
pub struct Globals {
    pub config: PathBuf,
    pub fallback_config: PathBuf,
    pub data: PathBuf,
}

/// Loaded settings every command needs.
struct Context {
    config: Config,
    store: Store,
    data: PathBuf,
}

fn context(g: &Globals) -> Result<Context, String> {
    let config = Config::load(&g.config, &g.fallback_config).map_err(|e| e.to_string())?;
    if config.loaded_files.is_empty() {
        log::debug("No configuration files present. Using defaults");
    }
    for f in &config.loaded_files {
        log::debug(&format!("Loaded configuration file: {}", f.display()));
    }
    // The warnings are about server settings, which standalone mode does not use.
    for w in &config.warnings {
        log::debug(w);
    }
    Ok(Context {
        store: Store::open(&g.data),
        data: g.data.clone(),
        config,
    })
}

fn open_env(config: &Config) -> Result<LinuxBootEnv, String> {
    let kind = match config.boot_environment() {
        BootEnvironment::UBoot => "uboot",
        BootEnvironment::Grub => "grub",
        BootEnvironment::Auto => "auto",
    };
    let choice = bootenv::choose(kind, &config.uboot_env_config(), config.grub_env_dir())?;
    LinuxBootEnv::open(&choice)
}

fn slots(config: &Config, env: &mut LinuxBootEnv) -> Result<Slots, String> {
    let (a, b) = match config.dual_rootfs() {
        Some((a, b)) => (Some(PathBuf::from(a)), Some(PathBuf::from(b))),
        None => (None, None),
    };
    let boot_part = install::boot_part(env)
        .map_err(|e| format!("No match between boot and root partitions.: {}", e))?;
    let s = partitions::detect(a.as_deref(), b.as_deref(), boot_part)?;
    if s.simulated {
        log::info(&format!(
            "RootfsPartA/B are regular files (a simulated device): the active partition is the one mender_boot_part names: {}",
            s.active.display()
        ));
    }
    log::debug(&format!(
        "Mender running on partition: {}",
        s.active.display()
    ));
    Ok(s)
}

/// The installed Artifact: the committed one, else the factory image's `artifact_info`.
fn installed_view(ctx: &Context) -> Result<InstalledArtifact, String> {
    let stored = ctx.store.artifact().map_err(|e| e.to_string())?;
    Ok(match stored {
        Some(a) => a,
        None => {
            // Before the first commit the factory image names itself in artifact_info.
            let info = ctx.config.artifact_info_file();
            let name = crate::store::manifest_value(&info, "artifact_name")
                .ok()
                .flatten()
                .unwrap_or_default();
            let group = crate::store::manifest_value(&info, "artifact_group")
                .ok()
                .flatten();
            InstalledArtifact {
                name,
                group,
                provides: BTreeMap::new(),
            }
        }
    })
}

/// Prints dots on a terminal as the image is written, like the official client's bar.
struct ProgressBar {
    on: bool,
    shown: u64,
}

impl ProgressBar {
    fn update(&mut self, received: u64, total: u64) {
        if !self.on || total == 0 {
            return;
        }
        let dots = received.saturating_mul(70) / total;
        let mut err = std::io::stderr();
        while self.shown < dots.min(70) {
            let _ = err.write_all(b".");
            self.shown += 1;
        }
        let _ = err.flush();
    }
}

pub fn install(g: &Globals, source: &str, reboot_exit_code: bool) -> Result<ExitCode, String> {
    let ctx = context(g)?;
    if ctx
        .store
        .standalone_state()
        .map_err(|e| e.to_string())?
        .is_some()
    {
        return Err("an update is already installed and waits for 'commit' or 'rollback'".into());
    }
    let device_type_file = ctx.config.device_type_file(&ctx.data);
    let device_type = crate::store::device_type(&device_type_file)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no device_type in {}", device_type_file.display()))?;
    let verifier = load_keys(&ctx.config.verify_keys())?;
    let mut env = open_env(&ctx.config)?;
    let slots = slots(&ctx.config, &mut env)?;
    let installed = installed_view(&ctx)?;

    let (mut input, size): (Box<dyn Read>, u64) =
        if source.starts_with("http://") || source.starts_with("https://") {
            let d = crate::download::get(source)?;
            (d.body, d.size.unwrap_or(0))
        } else {
            let file = std::fs::File::open(source)
                .map_err(|e| format!("open {}: {}", source, crate::config::os_error_text(&e)))?;
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            (Box::new(file), size)
        };
    println!("Installing Artifact of size {}...", size);
    let id = deploylog::standalone_deployment_id(SystemTime::now());
    match DeploymentLog::open(&ctx.data, &id, env!("CARGO_PKG_VERSION")) {
        Ok(l) => log::start_deployment(l),
        Err(e) => log::warn(&format!("can not open the deployment log: {}", e)),
    }

    let result = write_image(&id, &slots, &installed, &device_type, &verifier, &mut input);
    let state = match result {
        Ok(state) => state,
        Err(e) => {
            // Logged here, while the deployment log is open; the exit status says the rest.
            log::error(&e);
            log::end_deployment();
            return Ok(ExitCode::from(1));
        }
    };
    ctx.store
        .set_standalone_state(&state)
        .map_err(|e| e.to_string())?;
    if let Err(e) = install::switch_to(&mut env, slots.inactive_num) {
        // The payload is on the inactive partition but nothing points at it: forget it.
        let _ = ctx.store.clear_standalone_state();
        log::error(&e.to_string());
        log::end_deployment();
        return Ok(ExitCode::from(1));
    }
    log::info(&format!(
        "Boot environment now selects {} (partition {})",
        slots.inactive.display(),
        slots.inactive_num
    ));
    log::end_deployment();
    println!("Use 'commit' to update, or 'rollback' to roll back the update.");
    println!("At least one payload requested a reboot of the device it updated.");
    Ok(if reboot_exit_code {
        ExitCode::from(EXIT_REBOOT_REQUIRED)
    } else {
        ExitCode::SUCCESS
    })
}

fn write_image(
    id: &str,
    slots: &Slots,
    installed: &InstalledArtifact,
    device_type: &str,
    verifier: &crate::verify::KeyVerifier,
    input: &mut dyn Read,
) -> Result<StandaloneState, String> {
    let mut dev = PartitionDevice::open(&slots.inactive)
        .map_err(|e| format!("open {}: {}", slots.inactive.display(), e))?;
    let mut buffers = HeapBuffers::new();
    let (mut frame, mut scratch) = (vec![0u8; CHUNK], vec![0u8; CHUNK]);
    let writer = ImageWriter::new(&mut dev, &mut frame, &mut scratch);
    let config = ReaderConfig {
        verifier: if verifier.0.is_empty() {
            None
        } else {
            Some(verifier)
        },
        ..ReaderConfig::default()
    };
    let mut update = RootfsUpdate::new(
        buffers.buffers(),
        config,
        Device {
            device_type,
            installed,
        },
        writer,
    );
    let mut bar = ProgressBar {
        on: std::io::stderr().is_terminal(),
        shown: 0,
    };
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("reading the Artifact: {}", e)),
        };
        let p = update.feed(&buf[..n]).map_err(|e| e.to_string())?;
        bar.update(p.received, p.total);
    }
    let stats = update.finish().map_err(|e: InstallError| e.to_string())?;
    if bar.on {
        eprintln!();
    }
    log::info(&format!(
        "Wrote {}/{} bytes to the inactive partition ({} bytes were already equal)",
        stats.written, stats.received, stats.skipped
    ));
    let header = update.header().ok_or("reader: no header")?;
    let name = header.info.name().to_string();
    let group = header.info.group().map(|g| g.to_string());
    let type_info_provides = header
        .provides()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let clears_provides = header.clears().map(|c| c.map(|s| s.to_string()).collect());
    Ok(StandaloneState {
        deployment_id: id.to_string(),
        artifact_name: name,
        artifact_group: group,
        type_info_provides,
        clears_provides,
        payload_type: "rootfs-image".into(),
        partitions: Some(PartitionSwitch {
            from: slots.active_num,
            to: slots.inactive_num,
        }),
    })
}

fn nothing_to_commit() -> ExitCode {
    log::warn("There is nothing to commit");
    ExitCode::from(EXIT_NOTHING_TO_DO)
}

pub fn commit(g: &Globals) -> Result<ExitCode, String> {
    let ctx = context(g)?;
    let Some(state) = ctx.store.standalone_state().map_err(|e| e.to_string())? else {
        return Ok(nothing_to_commit());
    };
    println!("Committing Artifact...");
    let mut env = open_env(&ctx.config)?;
    match install::commit(&mut env) {
        Ok(()) => {}
        // A commit cut short after the boot env change: the selection already matches.
        Err(InstallError::NotUpgraded)
            if state
                .partitions
                .is_some_and(|p| install::boot_part(&mut env).ok().flatten() == Some(p.to)) =>
        {
            log::info("The boot environment was already committed; finishing the commit");
        }
        Err(e) => return Err(e.to_string()),
    }
    // Provides: survivors of the clears globs, then the new ones (client-behavior.md §7.1).
    let old = ctx.store.provides().map_err(|e| e.to_string())?;
    let old_group = ctx.store.artifact_group().map_err(|e| e.to_string())?;
    let clears: Option<Vec<&str>> = state
        .clears_provides
        .as_ref()
        .map(|c| c.iter().map(String::as_str).collect());
    let mut provides: BTreeMap<String, String> = old
        .into_iter()
        .filter(|(k, _)| provides::survives(k, clears.as_ref().map(|c| c.iter().copied())))
        .collect();
    provides.extend(state.type_info_provides.clone());
    let group = state.artifact_group.clone().or_else(|| {
        old_group.filter(|_| {
            provides::survives("artifact_group", clears.as_ref().map(|c| c.iter().copied()))
        })
    });
    ctx.store
        .commit_artifact(&state.artifact_name, group.as_deref(), &provides)
        .map_err(|e| e.to_string())?;
    ctx.store
        .clear_standalone_state()
        .map_err(|e| e.to_string())?;
    log::info(&format!("Committed Artifact {}", state.artifact_name));
    Ok(ExitCode::SUCCESS)
}

pub fn rollback(g: &Globals) -> Result<ExitCode, String> {
    let ctx = context(g)?;
    let Some(state) = ctx.store.standalone_state().map_err(|e| e.to_string())? else {
        return Ok(nothing_to_commit());
    };
    println!("Rolling back Artifact...");
    let switched = open_env(&ctx.config).and_then(|mut env| {
        let s = slots(&ctx.config, &mut env)?;
        install::rollback(&mut env, s.active_num, s.inactive_num).map_err(|e| e.to_string())
    });
    match switched {
        Ok(Rollback::NothingToDo) => log::info("No update available, so no rollback needed."),
        Ok(Rollback::SwitchedTo(p)) => {
            log::info(&format!("Boot environment now selects partition {}", p))
        }
        Err(e) => {
            // The boot selection is unknown now. As the official client does, record the
            // Artifact as inconsistent so that the next deployment and the user see it.
            log::error(&e);
            let name = format!("{}_INCONSISTENT", state.artifact_name);
            ctx.store
                .commit_artifact(
                    &name,
                    state.artifact_group.as_deref(),
                    &state.type_info_provides,
                )
                .map_err(|e| e.to_string())?;
            ctx.store
                .clear_standalone_state()
                .map_err(|e| e.to_string())?;
            return Ok(ExitCode::from(1));
        }
    }
    ctx.store
        .clear_standalone_state()
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

pub fn show_artifact(g: &Globals) -> Result<ExitCode, String> {
    let ctx = context(g)?;
    let mut logf = |level: Level, msg: &str| log::log(level, msg);
    let name = ctx
        .store
        .show_artifact_name(&ctx.config.artifact_info_file(), &mut logf)
        .map_err(|e| e.to_string())?;
    println!("{}", name);
    Ok(ExitCode::SUCCESS)
}

pub fn show_provides(g: &Globals) -> Result<ExitCode, String> {
    let ctx = context(g)?;
    for (k, v) in ctx.store.all_provides().map_err(|e| e.to_string())? {
        println!("{}={}", k, v);
    }
    Ok(ExitCode::SUCCESS)
}
