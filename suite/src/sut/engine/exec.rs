//! Running a command in a container (the engine's exec) and collecting its
//! exit status and output.

use anyhow::Result;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures_util::StreamExt;

use super::Engine;

/// What an exec produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    /// Exit status (-1 when the engine reports none).
    pub code: i64,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

/// Run `cmd` in container `id` as `user` (uid or name; `None`: the
/// container's user) and wait for it.
pub async fn exec(
    engine: &Engine,
    id: &str,
    user: Option<&str>,
    cmd: &[&str],
) -> Result<ExecOutput> {
    let created = engine
        .docker()
        .create_exec(
            id,
            CreateExecOptions {
                cmd: Some(cmd.to_vec()),
                user,
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..CreateExecOptions::default()
            },
        )
        .await?;
    let mut out = ExecOutput::default();
    if let StartExecResults::Attached { mut output, .. } =
        engine.docker().start_exec(&created.id, None).await?
    {
        while let Some(Ok(chunk)) = output.next().await {
            match chunk {
                LogOutput::StdOut { message } => out.stdout.extend_from_slice(&message),
                LogOutput::StdErr { message } => out.stderr.extend_from_slice(&message),
                _ => {}
            }
        }
    }
    out.code = engine
        .docker()
        .inspect_exec(&created.id)
        .await?
        .exit_code
        .unwrap_or(-1);
    Ok(out)
}
