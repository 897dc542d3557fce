//! The `mender` binary: command-line front end (Mender 3.x compatible subcommands and exit codes).
use mender_linux::inspect::{self, InspectArgs};
use std::process::ExitCode;

#[cfg(feature = "heap-stats")]
#[global_allocator]
static HEAP: mender_linux::heap::Counting = mender_linux::heap::Counting;

const USAGE: &str = "Usage: mender [global options] COMMAND [options]

Commands:
  inspect ARTIFACT|- [--verify-key PEM] [--json]
                 read an Artifact once, verify every checksum (and the signature
                 with --verify-key), print a summary (extension of this client)

Global options:
  --help, -h     show this help
  --version, -v  print the version
";

fn inspect_cmd(parser: &mut lexopt::Parser) -> Result<ExitCode, lexopt::Error> {
    use lexopt::prelude::*;
    let mut artifact = None;
    let mut verify_keys = Vec::new();
    let mut json = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Long("verify-key") | Short('k') => verify_keys.push(parser.value()?.string()?),
            Long("json") => json = true,
            Value(v) if artifact.is_none() => artifact = Some(v.string()?),
            Value(v) => {
                return Err(format!(
                    "Ambiguous arguments given - unrecognized argument: {}",
                    v.string()?
                )
                .into())
            }
            _ => return Err(arg.unexpected()),
        }
    }
    let Some(artifact) = artifact else {
        return Err("inspect needs an Artifact file or - for stdin".into());
    };
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
    }
}

fn main() -> ExitCode {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let result = (|| -> Result<ExitCode, lexopt::Error> {
        let Some(arg) = parser.next()? else {
            print!("{}", USAGE);
            return Ok(ExitCode::from(1));
        };
        match arg {
            Short('h') | Long("help") => {
                print!("{}", USAGE);
                Ok(ExitCode::SUCCESS)
            }
            Short('v') | Long("version") => {
                println!("{}\truntime: rust", env!("CARGO_PKG_VERSION"));
                Ok(ExitCode::SUCCESS)
            }
            Value(cmd) => {
                let cmd = cmd.string()?;
                match cmd.as_str() {
                    "inspect" => inspect_cmd(&mut parser),
                    other => {
                        eprintln!("No help topic for '{}'", other);
                        Ok(ExitCode::from(3))
                    }
                }
            }
            _ => Err(arg.unexpected()),
        }
    })();
    let code = result.unwrap_or_else(|e| {
        eprintln!("{}", e);
        ExitCode::from(1)
    });
    #[cfg(feature = "heap-stats")]
    eprintln!("peak_heap_bytes={}", mender_linux::heap::peak());
    code
}
