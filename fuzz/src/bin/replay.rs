//! Replay a run from its schedule string (as the explorer prints it) and
//! print its trace: `replay 'v1:17.3.5@5.1.0:0:start,step,...'`.

use std::process::ExitCode;

use lockcheck_fuzz::explore::replay;
use lockcheck_fuzz::lock_race::{table, Outcome};
use lockcheck_fuzz::schedule::decode;

fn main() -> ExitCode {
    let Some(text) = std::env::args().nth(1) else {
        eprintln!("usage: replay SCHEDULE   (as the explorer prints it)");
        return ExitCode::from(2);
    };
    let result = decode(&text).and_then(|s| replay(&s));
    match result {
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::from(2)
        }
        Ok((outcome, rows)) => {
            print!("{}", table(&rows));
            match outcome {
                Ok(Outcome::Held) => {
                    println!("every invariant held");
                    ExitCode::SUCCESS
                }
                Ok(Outcome::Unsafe(c)) => {
                    println!("broken: {}", c.reason);
                    ExitCode::from(1)
                }
                Err(reason) => {
                    println!("broken: {reason}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
