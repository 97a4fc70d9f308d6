//! A compact, versioned text form of a run (profile, services, ops) that a
//! failure prints and the `replay` binary reads back:
//!
//! ```text
//! v1:17.3.5@5.1.0:1:start,step,take.1.0.0.touch,release.1.0.0,time,crash.0,crash-sup,start!
//! ```
//!
//! Fields: version, profile, the scenario's `services` byte, then the ops:
//! `step`, `start` (`start!` forced), `crash-sup`, `take.USER.SVC.FILE.METHOD`,
//! `release.USER.SVC.FILE`, `crash.USER`, `time`.

use crate::lock_race::{Method, Op, Scenario};

/// The version this module writes and reads.
const VERSION: &str = "v1";

/// One run as [`encode`] writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The profile, as `17.3.5@5.1.0`.
    pub profile: String,
    /// What happens.
    pub scenario: Scenario,
}

/// The text form of `s`.
pub fn encode(s: &Schedule) -> String {
    let ops: Vec<String> = s.scenario.ops.iter().map(|op| op_text(*op)).collect();
    format!(
        "{VERSION}:{}:{}:{}",
        s.profile,
        s.scenario.services,
        ops.join(",")
    )
}

/// Read back what [`encode`] wrote; the error names the bad part.
pub fn decode(text: &str) -> Result<Schedule, String> {
    let mut fields = text.trim().splitn(4, ':');
    let mut next = |what: &str| {
        fields
            .next()
            .ok_or_else(|| format!("schedule {text:?}: missing {what}"))
    };
    let version = next("version")?;
    if version != VERSION {
        return Err(format!(
            "schedule {text:?}: version {version:?}, this build reads {VERSION:?}"
        ));
    }
    let profile = next("profile")?.to_string();
    let services = next("services")?
        .parse()
        .map_err(|e| format!("schedule {text:?}: services: {e}"))?;
    let ops = next("ops")?
        .split(',')
        .filter(|t| !t.is_empty())
        .map(parse_op)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("schedule {text:?}: {e}"))?;
    Ok(Schedule {
        profile,
        scenario: Scenario { services, ops },
    })
}

fn op_text(op: Op) -> String {
    match op {
        Op::SupervisorStep => "step".into(),
        Op::StartTake { force: false } => "start".into(),
        Op::StartTake { force: true } => "start!".into(),
        Op::CrashSupervisor => "crash-sup".into(),
        Op::Take {
            user,
            svc,
            file,
            method,
        } => format!("take.{user}.{svc}.{file}.{}", method.name()),
        Op::Release { user, svc, file } => format!("release.{user}.{svc}.{file}"),
        Op::CrashUser { user } => format!("crash.{user}"),
        Op::TimePasses => "time".into(),
    }
}

fn parse_op(token: &str) -> Result<Op, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let num = |i: usize| -> Result<u8, String> {
        parts
            .get(i)
            .ok_or_else(|| format!("op {token:?}: too few fields"))?
            .parse()
            .map_err(|e| format!("op {token:?}: {e}"))
    };
    let op = match parts[0] {
        "step" => Op::SupervisorStep,
        "start" => Op::StartTake { force: false },
        "start!" => Op::StartTake { force: true },
        "crash-sup" => Op::CrashSupervisor,
        "time" => Op::TimePasses,
        "crash" => Op::CrashUser { user: num(1)? },
        "release" => Op::Release {
            user: num(1)?,
            svc: num(2)?,
            file: num(3)?,
        },
        "take" => {
            let name = parts.get(4).copied().unwrap_or_default();
            Op::Take {
                user: num(1)?,
                svc: num(2)?,
                file: num(3)?,
                method: Method::from_name(name)
                    .ok_or_else(|| format!("op {token:?}: unknown method {name:?}"))?,
            }
        }
        other => return Err(format!("unknown op {other:?}")),
    };
    let fields = match op {
        Op::Take { .. } => 5,
        Op::Release { .. } => 4,
        Op::CrashUser { .. } => 2,
        _ => 1,
    };
    if parts.len() != fields {
        return Err(format!("op {token:?}: expected {fields} fields"));
    }
    Ok(op)
}
