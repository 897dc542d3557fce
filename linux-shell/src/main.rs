//! The `mender` binary: command-line front end (Mender 3.x compatible subcommands, flags and
//! exit codes; ../shared/spec/client-behavior.md §1).
use mender_linux::config::{DEFAULT_CONFIG, DEFAULT_FALLBACK_CONFIG};
use mender_linux::deploylog::Level;
use mender_linux::inspect::{self, InspectArgs};
use mender_linux::log;
use mender_linux::standalone::{self, Globals};
use mender_linux::store::DEFAULT_DATA_DIR;
use std::path::PathBuf;
use std::process::ExitCode;

#[cfg(feature = "heap-stats")]
#[global_allocator]
static HEAP: mender_linux::heap::Counting = mender_linux::heap::Counting;

const USAGE: &str = "Usage: mender [global options] COMMAND [options]

Commands:
  install FILE [--reboot-exit-code]
                 install a rootfs-image Artifact on the inactive partition
  commit         commit the installed update
  rollback       roll back the installed update
  show-artifact  print the name of the installed Artifact
  show-provides  print what the installed Artifact provides
  inspect ARTIFACT|- [--verify-key PEM] [--json]
                 read an Artifact once, verify every checksum (and the signature
                 with --verify-key), print a summary (extension of this client)

Global options:
  --config FILE, -c FILE            configuration file (default /etc/mender/mender.conf)
  --fallback-config FILE, -b FILE   fallback configuration (default /var/lib/mender/mender.conf)
  --data DIR, -d DIR                data directory (default /var/lib/mender)
  --log-level LEVEL, -l LEVEL       panic|fatal|error|warning|info|debug|trace (default info)
  --help, -h                        show this help
  --version, -v                     print the version
";

/// The 3.x client's error for a positional argument too many.
fn ambiguous(v: std::ffi::OsString) -> Result<lexopt::Error, lexopt::Error> {
    use lexopt::prelude::*;
    Ok(format!(
        "Ambiguous arguments given - unrecognized argument: {}",
        v.string()?
    )
    .into())
}

fn no_more_args(parser: &mut lexopt::Parser) -> Result<(), lexopt::Error> {
    use lexopt::prelude::*;
    match parser.next()? {
        None => Ok(()),
        Some(Value(v)) => Err(ambiguous(v)?),
        Some(arg) => Err(arg.unexpected()),
    }
}

fn inspect_cmd(parser: &mut lexopt::Parser) -> Result<Result<ExitCode, String>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut artifact = None;
    let mut verify_keys = Vec::new();
    let mut json = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("verify-key") | Short('k') => verify_keys.push(parser.value()?.string()?),
            Long("json") => json = true,
            Value(v) if artifact.is_none() => artifact = Some(v.string()?),
            Value(v) => return Err(ambiguous(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let Some(artifact) = artifact else {
        return Err("inspect needs an Artifact file or - for stdin".into());
    };
    // inspect reports its errors plainly on stderr: it is a tool for people and scripts.
    Ok(
        match inspect::run(&InspectArgs {
            artifact,
            verify_keys,
            json,
        }) {
            Ok(out) => {
                print!("{}", out);
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{}", e);
                Ok(ExitCode::from(1))
            }
        },
    )
}

fn install_cmd(
    parser: &mut lexopt::Parser,
    g: &Globals,
) -> Result<Result<ExitCode, String>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut source = None;
    let mut reboot_exit_code = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("reboot-exit-code") => reboot_exit_code = true,
            Value(v) if source.is_none() => source = Some(v.string()?),
            Value(v) => return Err(ambiguous(v)?),
            _ => return Err(arg.unexpected()),
        }
    }
    let Some(source) = source else {
        print!("{}", USAGE);
        return Ok(Ok(ExitCode::from(1)));
    };
    Ok(standalone::install(g, &source, reboot_exit_code))
}

fn run() -> Result<Result<ExitCode, String>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut g = Globals {
        config: PathBuf::from(DEFAULT_CONFIG),
        fallback_config: PathBuf::from(DEFAULT_FALLBACK_CONFIG),
        data: PathBuf::from(DEFAULT_DATA_DIR),
    };
    let mut level: Option<Level> = None;
    let command = loop {
        let Some(arg) = parser.next()? else {
            print!("{}", USAGE);
            return Ok(Ok(ExitCode::from(1)));
        };
        match arg {
            Short('h') | Long("help") => {
                print!("{}", USAGE);
                return Ok(Ok(ExitCode::SUCCESS));
            }
            Short('v') | Long("version") => {
                println!("{}\truntime: rust", env!("CARGO_PKG_VERSION"));
                return Ok(Ok(ExitCode::SUCCESS));
            }
            Short('c') | Long("config") => g.config = parser.value()?.into(),
            Short('b') | Long("fallback-config") => g.fallback_config = parser.value()?.into(),
            Short('d') | Long("data") => g.data = parser.value()?.into(),
            Short('l') | Long("log-level") => {
                let name = parser.value()?.string()?;
                level = Some(
                    log::parse_level(&name)
                        .ok_or_else(|| format!("not a valid logrus Level: {:?}", name))?,
                );
            }
            Value(cmd) => break cmd.string()?,
            _ => return Err(arg.unexpected()),
        }
    };
    // show-* print data on stdout; their logging defaults to warnings only.
    let quiet = matches!(command.as_str(), "show-artifact" | "show-provides");
    log::set_level(level.unwrap_or(if quiet { Level::Warning } else { Level::Info }));
    Ok(match command.as_str() {
        "inspect" => return inspect_cmd(&mut parser),
        "install" => return install_cmd(&mut parser, &g),
        "commit" => {
            no_more_args(&mut parser)?;
            standalone::commit(&g)
        }
        "rollback" => {
            no_more_args(&mut parser)?;
            standalone::rollback(&g)
        }
        "show-artifact" => {
            no_more_args(&mut parser)?;
            standalone::show_artifact(&g)
        }
        "show-provides" => {
            no_more_args(&mut parser)?;
            standalone::show_provides(&g)
        }
        other => {
            eprintln!("No help topic for '{}'", other);
            return Ok(Ok(ExitCode::from(3)));
        }
    })
}

fn main() -> ExitCode {
    let code = match run() {
        Ok(Ok(code)) => code,
        Ok(Err(msg)) => {
            log::error(&msg);
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("{}", e);
            ExitCode::from(1)
        }
    };
    #[cfg(feature = "heap-stats")]
    eprintln!("peak_heap_bytes={}", mender_linux::heap::peak());
    code
}
