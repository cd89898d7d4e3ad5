//! Training-only data: a simulated clean IoT network whose benign flows `train` adds to the rows
//! every model is fitted on, never to the captures held out to choose the threshold.
//!
//! Why: public labeled captures hold few benign flows of the kinds every network has (TLS to
//! vendor clouds, DNS, NTP, multicast discovery), so a forest fitted on them alone learns
//! "a TCP session to an external server" as an attack and alerts on a third of a new network's
//! ordinary HTTPS (BENCHMARKS.md, "Simulated benign traffic in training"). The simulator's
//! clean network supplies that variety. Invariant: its rows are fitted on and never measured
//! ([`iotguard_models::ooc::plan_with`]): the threshold and the out-of-capture estimate come from
//! the real captures alone.

use std::fmt;
use std::str::FromStr;

use iotguard_flow::{FlowRecord, ParseError, RecordIter};
use iotguard_sim::{AttackConfig, DeviceCounts, Flows, SimConfig, Simulator};

/// A simulated network with no infection: `flows` flows of `devices` devices from `seed`.
///
/// Its name (`simulated-clean:flows=20000,devices=30,seed=1`, what [`fmt::Display`] writes and
/// [`FromStr`] reads) is how a model file records it, so `retrain` makes the same flows again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimulatedClean {
    /// Flows simulated.
    pub flows: u64,
    /// Devices in the network (the simulator's usual mix of kinds).
    pub devices: u32,
    /// The simulator's seed.
    pub seed: u64,
}

/// The prefix of a simulated input's name.
pub const PREFIX: &str = "simulated-clean:";

impl SimulatedClean {
    /// Flows `train` adds by default.
    pub const DEFAULT_FLOWS: u64 = 20_000;
    /// Devices of the default network.
    pub const DEFAULT_DEVICES: u32 = 30;

    /// The default network of `flows` flows with `seed`.
    pub fn new(flows: u64, seed: u64) -> SimulatedClean {
        SimulatedClean {
            flows,
            devices: Self::DEFAULT_DEVICES,
            seed,
        }
    }

    /// Its flows, as an input reader (format name `simulated`).
    pub fn open(&self) -> Result<SimRecords, String> {
        let config = SimConfig {
            seed: self.seed,
            devices: DeviceCounts::mix(self.devices),
            attacks: AttackConfig {
                infected_fraction: 0.0,
                intensity: 0.0,
                ..AttackConfig::default()
            },
            ..SimConfig::default()
        };
        let sim = Simulator::new(config).map_err(|e| format!("{self}: {e}"))?;
        Ok(SimRecords {
            flows: sim.flows().take(self.flows as usize),
        })
    }
}

impl fmt::Display for SimulatedClean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{PREFIX}flows={},devices={},seed={}",
            self.flows, self.devices, self.seed
        )
    }
}

impl FromStr for SimulatedClean {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{s}: not a simulated input (`{PREFIX}flows=N,devices=N,seed=N`)");
        let rest = s.strip_prefix(PREFIX).ok_or_else(bad)?;
        let (mut flows, mut devices, mut seed) = (None, None, None);
        for part in rest.split(',') {
            let (k, v) = part.split_once('=').ok_or_else(bad)?;
            match k {
                "flows" => flows = v.parse().ok(),
                "devices" => devices = v.parse().ok(),
                "seed" => seed = v.parse().ok(),
                _ => return Err(bad()),
            }
        }
        match (flows, devices, seed) {
            (Some(flows), Some(devices), Some(seed)) => Ok(SimulatedClean {
                flows,
                devices,
                seed,
            }),
            _ => Err(bad()),
        }
    }
}

/// The flows of a [`SimulatedClean`] network, read like any input.
pub struct SimRecords {
    flows: std::iter::Take<Flows>,
}

impl Iterator for SimRecords {
    type Item = Result<FlowRecord, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.flows.next().map(Ok)
    }
}

impl RecordIter for SimRecords {
    fn format_name(&self) -> &'static str {
        "simulated"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iotguard_flow::LabelClass;

    #[test]
    fn the_name_reads_back() {
        let s = SimulatedClean::new(20_000, 7);
        assert_eq!(
            s.to_string(),
            "simulated-clean:flows=20000,devices=30,seed=7"
        );
        assert_eq!(s.to_string().parse::<SimulatedClean>(), Ok(s));
        for bad in [
            "flows=1,devices=2,seed=3",
            "simulated-clean:flows=1,devices=2",
            "simulated-clean:flows=1,devices=2,seed=x",
            "simulated-clean:flows=1,devices=2,seed=3,colour=red",
        ] {
            assert!(bad.parse::<SimulatedClean>().is_err(), "{bad}");
        }
    }

    #[test]
    fn it_gives_its_flows_all_benign_and_the_same_each_time() {
        let s = SimulatedClean::new(500, 3);
        let flows: Vec<FlowRecord> = s.open().unwrap().map(Result::unwrap).collect();
        assert_eq!(flows.len(), 500);
        assert!(flows
            .iter()
            .all(|f| f.label.as_ref().map(|l| l.class) == Some(LabelClass::Benign)));
        let again: Vec<FlowRecord> = s.open().unwrap().map(Result::unwrap).collect();
        assert_eq!(flows, again);
    }
}
