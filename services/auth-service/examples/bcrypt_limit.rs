//! The machine's hashing limit: bcrypt verifies per second on every core, the ceiling
//! for logins. `cargo run --release -p auth-service --example bcrypt_limit -- COST SECONDS`
//! prints one JSON line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().map_or(Ok(10), |a| a.parse())?;
    let seconds: u64 = args.next().map_or(Ok(10), |a| a.parse())?;
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let hash = bcrypt::hash("correct horse battery", cost)?;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (hash, done, stop) = (hash.clone(), done.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if bcrypt::verify("correct horse battery", &hash).unwrap_or(false) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let verifies = done.load(Ordering::Relaxed);
    println!(
        "{{\"cost\":{cost},\"threads\":{threads},\"verifies\":{verifies},\"seconds\":{elapsed:.3},\"per_second\":{:.2}}}",
        verifies as f64 / elapsed
    );
    Ok(())
}
