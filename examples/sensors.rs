//! The demo's sensor network: generates readings shaped like the original city sensors'
//! output, and judges what came out of Kafka against what was published.
//!
//! `sensors generate ROUNDS` prints ROUNDS readings of each of 15 sensors, one JSON payload
//! per line, in publishing order. `sensors verdict SENT RECEIVED` reads those lines and the
//! envelopes `mqk sub --format json` wrote, and prints per sensor what was delivered, lost,
//! duplicated and reordered; it exits 0 only when nothing was lost or reordered.

use std::process::ExitCode;

use mqk::audit::Audit;
use mqk::record::Envelope;

/// The three sensor models of the original network, five sensors each.
const MODELS: [&str; 3] = ["MICS-6814", "SPS30", "RXW-LIB-900"];
const SENSORS: usize = 15;
/// The original simulator's interval between two readings of one sensor.
const INTERVAL_SECS: i64 = 120;
/// 2024-04-11T13:00:00Z, where the recorded stream starts.
const START_SECS: i64 = 1_712_840_400;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate", rounds] => rounds
            .parse()
            .map_err(|e| format!("ROUNDS: {e}"))
            .map(generate),
        ["verdict", sent, received] => verdict(sent, received),
        _ => Err("usage: sensors generate ROUNDS | sensors verdict SENT RECEIVED".into()),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// A small deterministic generator, so every demo run publishes the same stream.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

fn sensor_id(n: usize) -> String {
    let mut lcg = Lcg(n as u64 + 1);
    (0..12).map(|_| format!("{:02x}", lcg.next(256))).collect()
}

fn generate(rounds: usize) -> bool {
    let mut lcg = Lcg(2024);
    for round in 0..rounds {
        for sensor in 0..SENSORS {
            let seconds = START_SECS + round as i64 * INTERVAL_SECS + sensor as i64;
            let nanos = lcg.next(1_000_000_000);
            let reading = serde_json::json!({
                "sensor_id": sensor_id(sensor),
                "data": {
                    "co": lcg.next(16), "co2": 400 + lcg.next(600), "mp10": lcg.next(250),
                    "mp25": lcg.next(125), "no2": lcg.next(1130), "rad": 1 + lcg.next(1280),
                },
                "timestamp": format!("{}.{nanos:09}Z", rfc3339_seconds(seconds)),
            });
            println!("{reading}");
        }
    }
    true
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (UTC), by the days-from-civil algorithm.
fn rfc3339_seconds(unix: i64) -> String {
    let (days, rest) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn sensor_of(payload: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v.get("sensor_id")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| "(not a reading)".into())
}

fn verdict(sent: &str, received: &str) -> Result<bool, String> {
    let sent = std::fs::read(sent).map_err(|e| format!("{sent}: {e}"))?;
    let received = std::fs::read(received).map_err(|e| format!("{received}: {e}"))?;
    let mut audit = Audit::default();
    for line in sent.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        audit.expect(&sensor_of(line), line);
    }
    let mut wrong_keys = 0;
    for (n, line) in received
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let record = Envelope::from_json(line, n + 1).map_err(|e| e.to_string())?;
        wrong_keys += usize::from(record.key.as_deref() != Some(b"sensors".as_slice()));
        audit.receive(&sensor_of(record.payload_bytes()), record.payload_bytes());
    }

    println!(
        "{:<26} {:<12} {:>9} {:>5} {:>10} {:>9}",
        "sensor", "model", "delivered", "lost", "duplicated", "reordered"
    );
    for (n, (sensor, counts)) in audit.streams().enumerate() {
        let model = (0..SENSORS)
            .position(|i| sensor_id(i) == sensor)
            .map_or("?", |i| MODELS[i % 3]);
        let _ = n;
        println!(
            "{sensor:<26} {model:<12} {:>9} {:>5} {:>10} {:>9}",
            format!("{}/{}", counts.delivered, counts.expected),
            counts.lost(),
            counts.duplicated,
            counts.reordered
        );
    }
    let total = audit.total();
    println!("total: {total}; records with a key other than 'sensors': {wrong_keys}");
    let ok = total.ok() && wrong_keys == 0;
    println!(
        "verdict: {}",
        if ok {
            "PASS: nothing lost, nothing reordered"
        } else {
            "FAIL"
        }
    );
    Ok(ok)
}
